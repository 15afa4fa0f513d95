"""``RedisStreamQueue``: the update queue on Redis Streams, shared by every worker process.

One Redis Stream per shard (``<prefix>:updates:{<n>}``, a hash tag each, so a cluster spreads
them) with a consumer group; every key comes from the store's
:class:`~flowhq.persistence.keys.KeyBuilder`. Recording a POST's updates is one pipelined
round trip. Each shard is processed by one worker at a time, the holder of a lease the
worker renews while it lives; several processes or machines share the shards (each takes
its fair part). Every read is fenced by the lease (a worker that lost it takes nothing
more) and first claims what other consumers left pending (a dead or stalled worker's
entries), so a user's updates are handled in order whoever crashed or stalled. Taken
updates go to one lane per conversation (:mod:`flowhq.inbox.lanes`). An entry is
acknowledged (and deleted) once handled. At-least-once: an update may be handled twice
after a crash, and the conversation's message-id deduplication makes that harmless (see
docs/whatsapp.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any, cast

import attrs
from attrs import frozen
from redis import asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flowhq.errors import StoreUnavailableError
from flowhq.inbox.batching import Batched
from flowhq.inbox.lanes import Handler, Lanes
from flowhq.inbox.outage import OutageLog
from flowhq.inbox.queue import decode, encoded_or_none, shard_of
from flowhq.messaging.types import InboundMessage
from flowhq.persistence.keys import KeyBuilder

__all__ = ["RedisStreamQueue"]

logger = logging.getLogger("flowhq.inbox")


# KEYS[1] the lease; ARGV: worker, milliseconds. Renews a lease this worker holds, or takes
# it back when it lapsed and nobody took it: a worker whose event loop was too busy to renew
# in time keeps handling its shard instead of dropping work in flight and handling it again.
RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the lease; ARGV: worker. Gives up only a lease this worker holds.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] the stream, KEYS[2] its lease; ARGV: group, worker (the lease holder), consumer,
# count, first (1 on the first read of a holding). Returns false unless the worker holds the
# lease: a worker whose lease lapsed (its loop stalled) takes nothing more, so no entry
# reaches a consumer that no longer holds the shard. Else, in one atomic step: claim up to
# count entries other consumers left pending (deleting a consumer once it has none), then,
# only if none is left with them, read new entries — an old holder's entries always come
# before anything newer. Returns {claimed, new, the stream's last id, more to read (0/1)}.
# On a first read, consumers with nothing pending are deleted (the group stays small).
READ = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return false
end
local group, consumer, count = ARGV[1], ARGV[3], tonumber(ARGV[4])
if ARGV[5] == '1' then
  for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], group)) do
    if info[2] ~= consumer and info[4] == 0 then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group, info[2])
    end
  end
end
local claimed, left = {}, 0
local summary = redis.call('XPENDING', KEYS[1], group)
if type(summary[4]) == 'table' then
  for _, owner in ipairs(summary[4]) do
    local name, pending = owner[1], tonumber(owner[2])
    if name ~= consumer then
      local room = count - #claimed
      if room > 0 then
        local ids = {}
        for _, entry in ipairs(redis.call('XPENDING', KEYS[1], group, '-', '+', room, name)) do
          ids[#ids + 1] = entry[1]
        end
        for _, entry in ipairs(redis.call('XCLAIM', KEYS[1], group, consumer, 0, unpack(ids))) do
          claimed[#claimed + 1] = entry
        end
        pending = pending - #ids
        if pending == 0 then
          redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group, name)
        end
      end
      left = left + pending
    end
  end
end
local new = {}
if left == 0 and #claimed < count then
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count - #claimed,
                           'STREAMS', KEYS[1], '>')
  if reply then new = reply[1][2] end
end
local more = 0
if left > 0 or #claimed + #new >= count then more = 1 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
return {claimed, new, last[1] and last[1][1] or '0-0', more}
"""

# Redis names scripts by their SHA-1; it identifies code here, it protects nothing.
_SHAS = {READ: hashlib.sha1(READ.encode()).hexdigest()}  # noqa: S324


@frozen
class _Read:
    """What one fenced read took: entries in the order to handle them."""

    entries: list[Any]
    more: bool
    """More may be waiting: read again at once."""
    last: Any
    """The stream's last entry id: a wait for new entries starts after it."""


def _order(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id as numbers, to sort ids from several consumers."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


class RedisStreamQueue:
    """Updates on Redis Streams, shared by every worker process (see the module docs).

    Args:
        client: The redis-py asyncio client (``RedisStore.client`` shares the store's pool).
        keys: Spells the streams', leases' and heartbeats' keys; pass the store's
            (``RedisStore.keys``) so they share its prefix. Default: ``KeyBuilder(prefix)``.
        prefix: Key namespace, when no ``keys`` are given.
        shards: Streams the updates are spread over; fixed for a deployment (changing it
            moves conversations to other shards while old entries still wait).
        lease: Seconds a worker holds a shard without renewing; a dead worker's shards move
            to live ones after this.
        batch: Updates a shard may have in hand at once (read, not yet handled).
        block: Milliseconds a read waits for new updates.
        group: The consumer group.
        outage: Where an outage of Redis is logged (one line as it starts, one as it ends);
            ``webhook_app`` shares it with its POST handling and workers.

    Raises:
        ValueError: ``prefix`` and ``keys`` name different namespaces.
    """

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        keys: KeyBuilder | None = None,
        prefix: str | None = None,
        shards: int = 8,
        lease: float = 10.0,
        batch: int = 100,
        block: int = 500,
        group: str = "flowhq",
        outage: OutageLog | None = None,
    ) -> None:
        if keys is not None and prefix is not None and prefix != keys.prefix:
            raise ValueError(f"prefix {prefix!r} differs from the keys' {keys.prefix!r}")
        self.client = client
        self.keys = keys or KeyBuilder(prefix or "flowhq")
        self.outage = outage or OutageLog()
        self.shards = shards
        self.lease = lease
        self.batch = batch
        self.block = block
        self.group = group
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._groups_ready: set[int] = set()
        self._holdings = itertools.count(1)

    def __repr__(self) -> str:
        return f"RedisStreamQueue(prefix={self.prefix!r}, shards={self.shards})"

    @property
    def prefix(self) -> str:
        """The keys' namespace."""
        return self.keys.prefix

    def stream(self, shard: int) -> str:
        """The stream key of ``shard``."""
        return self.keys.updates(shard)

    def _lease_key(self, shard: int) -> str:
        return self.keys.lease(shard)

    @property
    def _workers_key(self) -> str:
        return self.keys.workers()

    async def put(self, messages: Sequence[InboundMessage]) -> None:
        """Append ``messages`` to their shards' streams (one pipelined round trip).

        Each delivery has its own round trip: sharing one with the deliveries posted
        meanwhile (as acknowledgements do) made each POST wait for the one in flight, and
        the 200 later under load.

        A message that cannot be recorded (a lone surrogate or an integer over 64 bits
        somewhere in it: valid JSON, but nothing could store it) is logged and left out, so
        it never makes Meta retry the whole delivery, the good messages with it.

        Raises:
            StoreUnavailableError: Redis is unreachable; nothing was recorded for sure.
        """
        entries = []
        for message in messages:
            raw = encoded_or_none(message)
            if raw is None:
                continue
            fields: dict[Any, Any] = {"m": raw}
            if message.traceparent:  # beside the update: any version reads "m"
                fields["t"] = message.traceparent.encode()
            entries.append((self.stream(shard_of(message.identifier, self.shards)), fields))
        if not entries:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for stream, fields in entries:
                    pipe.xadd(stream, fields)
                await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailableError(f"Redis is unreachable: {exc}") from exc

    async def _ensure_group(self, shard: int) -> None:
        if shard in self._groups_ready:
            return
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await cast(
                Awaitable[Any],
                self.client.xgroup_create(self.stream(shard), self.group, id="0", mkstream=True),
            )
        self._groups_ready.add(shard)

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Hold a fair share of the shards and handle their updates until ``stop``."""
        held: dict[int, asyncio.Task[None]] = {}
        halt = asyncio.Event()  # the consumers stop at their next update once it is set
        try:
            while not stop.is_set():
                try:
                    await self._balance(held, handler, halt)
                except (RedisError, OSError) as exc:  # keep trying: updates wait in Redis
                    self.outage.failed(exc)
                else:
                    self.outage.recovered()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.lease / 3)
        finally:
            halt.set()
            # Each conversation finishes the update in hand and acknowledges it: a restart
            # should not cut a step in half and leave it to be handled again elsewhere.
            if held:
                await asyncio.wait(held.values(), timeout=self.lease)
            for task in held.values():
                task.cancel()
            await asyncio.gather(*held.values(), return_exceptions=True)
            for shard in list(held):
                with contextlib.suppress(Exception):
                    await self._call(RELEASE, self._lease_key(shard), self.worker)
            with contextlib.suppress(Exception):
                await cast(Awaitable[Any], self.client.zrem(self._workers_key, self.worker))

    async def _call(self, script: str, key: str, *args: Any) -> Any:
        return await cast(Awaitable[Any], self.client.eval(script, 1, key, *args))

    async def _balance(
        self, held: dict[int, asyncio.Task[None]], handler: Handler, stop: asyncio.Event
    ) -> None:
        """Heartbeat, renew held leases, take free shards up to a fair share."""
        now = time.time()
        workers_key = self._workers_key
        lease_ms = int(self.lease * 1000)
        # One round trip for the heartbeat and every renewal: under load each await waits
        # behind every ready task of the loop, and a lease must not lapse while it queues.
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(workers_key, {self.worker: now})
            pipe.zremrangebyscore(workers_key, 0, now - self.lease)
            pipe.zcard(workers_key)
            for shard in held:
                pipe.eval(RENEW, 1, self._lease_key(shard), self.worker, str(lease_ms))
            replies = await pipe.execute()
        alive = max(1, int(replies[2]))
        fair = -(-self.shards // alive)  # ceiling
        for renewed, (shard, task) in zip(replies[3:], list(held.items()), strict=True):
            if not renewed or task.done():  # another worker holds it now, or it ended
                task.cancel()
                del held[shard]
        # Over the fair share (a worker joined): hand back the last shards.
        for shard in sorted(held)[fair:]:
            held.pop(shard).cancel()
            await self._call(RELEASE, self._lease_key(shard), self.worker)
        for shard in range(self.shards):
            if len(held) >= fair:
                break
            if shard in held:
                continue
            taken = await cast(
                Awaitable[Any],
                self.client.set(self._lease_key(shard), self.worker, nx=True, px=lease_ms),
            )
            if taken:
                held[shard] = asyncio.create_task(self._consume(shard, handler, stop))

    async def _consume(self, shard: int, handler: Handler, stop: asyncio.Event) -> None:
        """Handle a held shard until ``stop``: what others left pending first, then new entries.

        Every read is fenced by the lease and claims, in the same atomic step, what other
        consumers left pending (a previous holder's entries), so those come before anything
        newer of the same conversation. Updates go to one lane per conversation: a slow step
        holds up only its own user.
        """
        stream, lease = self.stream(shard), self._lease_key(shard)
        # A consumer name per holding: what an earlier holding of this process left pending
        # is "another consumer's", claimed like a dead worker's.
        consumer = f"{self.worker}/{shard}/{next(self._holdings)}"
        # Updates handled while an acknowledgement is in flight are acknowledged together.
        acknowledge = Batched(partial(self._done, stream))
        lanes = Lanes(
            handler, stop, limit=self.batch, done=partial(self._acknowledge, acknowledge, stop)
        )
        first = True
        try:
            while not stop.is_set() and not lanes.failed:
                if not lanes.room:
                    await lanes.wait_for_room(seconds=self.block / 1000)
                    continue
                try:
                    await self._ensure_group(shard)
                    read = await self._read(stream, lease, consumer, lanes.room, first=first)
                    if read is None:  # the lease lapsed: wait until it is renewed or lost
                        await asyncio.sleep(min(1.0, self.lease / 3))
                        continue
                    first = False
                    await self._dispatch(stream, read.entries, lanes)
                    if not read.more:
                        await self._wait_for_new(stream, read.last)
                except (RedisError, OSError) as exc:
                    if isinstance(exc, ResponseError) and "NOGROUP" not in str(exc):
                        logger.error("Update queue: Redis refused to read %s: %s", stream, exc)
                    # Redis is unreachable (the balance loop logs it); the group is made
                    # again if Redis came back without its data.
                    self._groups_ready.discard(shard)
                    await asyncio.sleep(min(1.0, self.lease / 3))
            await lanes.drain()  # each conversation finishes the update in hand
        finally:
            lanes.cancel()

    async def _read(
        self, stream: str, lease: str, consumer: str, count: int, *, first: bool
    ) -> _Read | None:
        """Claim others' pending entries, then read new ones, if this worker holds the lease."""
        reply = await self._script(
            READ, [stream, lease], [self.group, self.worker, consumer, count, int(first)]
        )
        if not reply:
            return None
        claimed = sorted(reply[0], key=lambda entry: _order(entry[0]))
        return _Read([*claimed, *reply[1]], bool(int(reply[3])), reply[2])

    async def _dispatch(self, stream: str, entries: Sequence[Any], lanes: Lanes) -> None:
        """Give each entry to its conversation's lane, in order."""
        unreadable = []
        for entry_id, flat in entries:
            if lanes.holds(entry_id):  # claimed back from a holder that took it meanwhile
                continue
            try:
                fields = dict(zip(flat[::2], flat[1::2], strict=True))
                message = decode(fields[b"m"])
                if b"t" in fields:
                    message = attrs.evolve(message, traceparent=fields[b"t"].decode())
            except Exception:  # an entry no version of this code can read: drop it
                logger.exception("Update queue: dropping unreadable entry %s", entry_id)
                unreadable.append(entry_id)
                continue
            lanes.add(entry_id, message)
        if unreadable:
            await self._done(stream, unreadable)

    async def _wait_for_new(self, stream: str, last: Any) -> None:
        """Wait (up to ``block`` ms) for an entry newer than ``last``, without taking it."""
        await cast(Awaitable[Any], self.client.xread({stream: last}, count=1, block=self.block))

    async def _script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run a script by its SHA (one round trip), sending it once where it is missing."""
        try:
            return await cast(
                Awaitable[Any], self.client.evalsha(_SHAS[source], len(keys), *keys, *args)
            )
        except NoScriptError:  # a restarted server or another cluster node
            return await cast(Awaitable[Any], self.client.eval(source, len(keys), *keys, *args))

    async def _acknowledge(
        self, acknowledge: Batched[Any], stop: asyncio.Event, entry_id: Any
    ) -> None:
        """Acknowledge a handled entry, trying again while Redis is unreachable."""
        while True:
            try:
                await acknowledge(entry_id)
                return
            except (RedisError, OSError):
                if stop.is_set():  # left pending: handled again later, harmlessly
                    return
                await asyncio.sleep(min(1.0, self.lease / 3))

    async def _done(self, stream: str, ids: Sequence[Any]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(stream, self.group, *ids)
            pipe.xdel(stream, *ids)
            await pipe.execute()

    async def pending(self) -> int:
        """Updates recorded and not yet handled, over every shard (for monitoring and tests)."""
        total = 0
        for shard in range(self.shards):
            total += int(await cast(Awaitable[Any], self.client.xlen(self.stream(shard))))
        return total

    async def depth(self) -> list[tuple[int, int, float]]:
        """``(shard, pending, seconds the oldest has waited)`` for each shard (one round trip).

        The age is read from the oldest entry's id (Redis' clock, in milliseconds).
        """
        async with self.client.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xlen(self.stream(shard))
                pipe.xrange(self.stream(shard), count=1)
            pipe.time()
            replies = await pipe.execute()
        seconds, micros = replies[-1]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        found = []
        for shard in range(self.shards):
            pending, oldest = replies[2 * shard], replies[2 * shard + 1]
            age = (now_ms - _order(oldest[0][0])[0]) / 1000 if oldest else 0.0
            found.append((shard, int(pending), max(0.0, age)))
        return found

    async def close(self) -> None:
        """Nothing of its own: the client belongs to the store."""

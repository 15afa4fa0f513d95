"""``RedisStreamQueue``: the update queue on Redis Streams, shared by every worker process.

One Redis Stream per shard (``<prefix>:updates:{<n>}``, a hash tag each, so a cluster spreads
them) with a consumer group; every key comes from the store's
:class:`~flowhq.persistence.keys.KeyBuilder`. Recording a POST's updates is one pipelined
round trip. Each shard is processed by one worker at a time, the holder of a lease the
worker renews while it lives; several processes or machines share the shards (each takes
its fair part). An entry is acknowledged (and deleted) once handled; one left pending by a
worker that died is claimed (``XAUTOCLAIM``) by the next holder of its shard and handled
first. At-least-once: an update may be handled twice after a crash, and the conversation's
message-id deduplication makes that harmless (see docs/whatsapp.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from redis import asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError

from flowhq.inbox.queue import (
    Handler,
    by_conversation,
    decode,
    encoded_or_none,
    handle_in_order,
    shard_of,
)
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
        batch: Updates read at once from a shard.
        block: Milliseconds a read waits for new updates.
        group: The consumer group.

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
    ) -> None:
        if keys is not None and prefix is not None and prefix != keys.prefix:
            raise ValueError(f"prefix {prefix!r} differs from the keys' {keys.prefix!r}")
        self.client = client
        self.keys = keys or KeyBuilder(prefix or "flowhq")
        self.shards = shards
        self.lease = lease
        self.batch = batch
        self.block = block
        self.group = group
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._groups_ready: set[int] = set()

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

        A message that cannot be recorded (a lone surrogate or an integer over 64 bits
        somewhere in it: valid JSON, but nothing could store it) is logged and left out, so
        it never makes Meta retry the whole delivery, the good messages with it.
        """
        recorded = [(message, raw) for message in messages if (raw := encoded_or_none(message))]
        if not recorded:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for message, raw in recorded:
                pipe.xadd(self.stream(shard_of(message.identifier, self.shards)), {"m": raw})
            await pipe.execute()

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
        reachable = True
        try:
            while not stop.is_set():
                try:
                    await self._balance(held, handler, halt)
                except (RedisError, OSError) as exc:  # keep trying: updates wait in Redis
                    if reachable:
                        logger.warning(
                            "Update queue: Redis unreachable (%s); updates wait until it is back",
                            exc,
                        )
                    reachable = False
                else:
                    if not reachable:
                        logger.warning("Update queue: Redis is back; handling waiting updates")
                    reachable = True
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
        """Handle a held shard: first what a previous holder left pending, then new entries."""
        stream = self.stream(shard)
        claim_from: Any = "0-0"
        while not stop.is_set():
            try:
                await self._ensure_group(shard)
                claim_from = await self._take(stream, claim_from, handler, stop)
            except (RedisError, OSError):
                # Redis is unreachable (the balance loop logs it). Entries read and not yet
                # acknowledged are claimed again once it is back (handling twice is harmless),
                # and the group is made again if Redis came back without its data.
                self._groups_ready.discard(shard)
                claim_from = "0-0"
                await asyncio.sleep(min(1.0, self.lease / 3))

    async def _take(
        self, stream: str, claim_from: Any, handler: Handler, stop: asyncio.Event
    ) -> Any:
        """Handle the next entries: pending ones from ``claim_from`` on, else new ones.

        Returns where claiming goes on next (``None``: nothing pending is left).
        """
        entries: list[Any]
        if claim_from is not None:
            reply = await cast(
                Awaitable[Any],
                self.client.xautoclaim(
                    stream, self.group, self.worker, min_idle_time=0, start_id=claim_from
                ),
            )
            next_id, entries = reply[0], reply[1]
            claim_from = None if next_id in (b"0-0", "0-0") else next_id
        else:
            reply = await cast(
                Awaitable[Any],
                self.client.xreadgroup(
                    self.group, self.worker, {stream: ">"}, count=self.batch, block=self.block
                ),
            )
            entries = reply[0][1] if reply else []
        if entries:
            await self._handle(stream, entries, handler, stop)
        return claim_from

    async def _handle(
        self, stream: str, entries: list[Any], handler: Handler, stop: asyncio.Event
    ) -> None:
        decoded: list[tuple[Any, InboundMessage]] = []
        for entry_id, fields in entries:
            if not fields:  # deleted meanwhile
                await self._done(stream, [entry_id])
                continue
            try:
                decoded.append((entry_id, decode(fields[b"m"])))
            except Exception:  # an entry no version of this code can read: drop it
                logger.exception("Update queue: dropping unreadable entry %s", entry_id)
                await self._done(stream, [entry_id])

        async def one(group: list[tuple[Any, InboundMessage]]) -> None:
            handled = await handle_in_order(handler, [m for _, m in group], stop)
            if handled:
                await self._done(stream, [entry_id for entry_id, _ in group[:handled]])

        await asyncio.gather(*(one(group) for group in by_conversation(decoded).values()))

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

    async def close(self) -> None:
        """Nothing of its own: the client belongs to the store."""

"""``RedisStore``: conversations in Redis (or Redis Cluster) with a compare-and-set commit.

Layout: one hash per conversation, ``<prefix>:{<channel>:<identifier>}``, with the fields
``doc`` (the JSON document), ``rev`` (its revision) and one ``dlv:<revision>`` per commit
whose outbox entries were delivered (dropped once those entries leave the outbox). The
braces are a hash tag: everything a commit touches is one key, so the same code runs on a
single Redis and on a cluster.

Round trips per handled message: a load (``HGETALL``) and a commit (``EVALSHA`` of a Lua
compare-and-set). On a conflict the script returns the current hash, so a retry needs no
extra load. No connection is held while a step runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Collection, Mapping, Sequence
from typing import Any, cast

from redis import asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from flowhq.errors import SnapshotError, StoreUnavailableError
from flowhq.messaging.key import ConversationKey
from flowhq.persistence.codec import Codec, JsonCodec
from flowhq.persistence.identity import LINK_IDENTITIES
from flowhq.persistence.integrity import MAX_FAILURE_REASON, parse_count
from flowhq.persistence.keys import KeyBuilder
from flowhq.persistence.store import Claim, CommitResult, Loaded, Seen, check_stored
from flowhq.state.document import ConversationDocument

__all__ = ["RedisStore"]

logger = logging.getLogger("flowhq.persistence")

TIMER_SHARDS = 16
"""Shards of the timer index; fixed for a deployment (a conversation's shard depends on it)."""

# KEYS[1] the conversation, KEYS[2] the ids of its messages seen (same slot). ARGV: 1 the
# expected revision (decimal string), 2 the document, 3 its TTL in ms (0: no expiry), 4 the
# SHA-1 of the document the step started from ('' for none), 5 the message id ('' for none),
# 6 its time, 7 the time before which seen ids are forgotten, 8 how many ids are kept at
# most, 9 how long they are kept (ms), then revisions whose delivery marks can go.
# Returns {1, new_rev}; {0, HGETALL} when the revision or the document is not the expected
# one (so the retry needs no load); {2} when the message was seen (a duplicate: nothing is
# written); {-1} when a foreign hash is at the key. Revisions are compared as strings and
# bumped with HINCRBY: Lua numbers are doubles, which lose exactness past 2^53. The digest
# catches a document written over at the same revision (by hand, or a corruption) that a
# cached copy would overwrite. Past the limit, the oldest ids go and the newest time among
# them stays as a floor, under the member '' (a message id is never empty): a message from
# before it counts as seen.
COMMIT = """
local rev = redis.call('HGET', KEYS[1], 'rev')
if rev == false and redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1}
end
if ARGV[5] ~= '' then
  if redis.call('ZSCORE', KEYS[2], ARGV[5]) then
    return {2}
  end
  local floor = redis.call('ZSCORE', KEYS[2], '')
  if floor and tonumber(ARGV[6]) <= tonumber(floor) then
    return {2}
  end
end
if (rev or '0') ~= ARGV[1] then
  return {0, redis.call('HGETALL', KEYS[1])}
end
if ARGV[4] ~= '' then
  local doc = redis.call('HGET', KEYS[1], 'doc')
  if doc == false or redis.sha1hex(doc) ~= ARGV[4] then
    return {0, redis.call('HGETALL', KEYS[1])}
  end
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'rev', 1)
for i = 10, #ARGV do
  redis.call('HDEL', KEYS[1], 'dlv:' .. ARGV[i], 'dlp:' .. ARGV[i], 'dlf:' .. ARGV[i],
    'dls:' .. ARGV[i])
end
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('PERSIST', KEYS[1])
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[7])
  local floor = redis.call('ZSCORE', KEYS[2], '')
  if floor then
    redis.call('ZREM', KEYS[2], '')
  end
  local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[8])
  if extra > 0 then
    local gone = redis.call('ZRANGE', KEYS[2], 0, extra - 1, 'WITHSCORES')
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
    if not floor or tonumber(gone[#gone]) > tonumber(floor) then
      floor = gone[#gone]
    end
  end
  if floor then
    redis.call('ZADD', KEYS[2], floor, '')
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[9])
end
return {1, redis.call('HGET', KEYS[1], 'rev')}
"""

# KEYS[1] the conversation; ARGV: field, value pairs of delivery marks (dlv:<rev> all
# delivered, dlp:<rev> how many went out, dlf:<rev> dropped after a permanent failure,
# dls:<rev> stalled: its sending failed for now and nobody is sending it).
# Nothing is created for a conversation that is gone.
MARK_DELIVERED = """
if redis.call('HEXISTS', KEYS[1], 'rev') == 0 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""


# KEYS[1] a shard of the timer index; ARGV: now, limit, token. Takes up to `limit` members
# due at `now` and moves each to `token` (now + lease): a claimer that dies leaves them to be
# claimed again then. Scores travel as the shortest decimal of a double: exact both ways.
CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], member)
end
return due
"""

# KEYS[1] a shard of the timer index; ARGV: member, token, next due time ('' for none).
# A member still at the claim's token takes the conversation's next due time (or leaves);
# one a step lowered since the claim is only lowered further.
RELEASE_DUE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
if tonumber(score) == tonumber(ARGV[2]) then
  if ARGV[3] == '' then
    redis.call('ZREM', KEYS[1], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  end
elseif ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[1])
end
return 1
"""

_SCRIPTS = {
    "commit": COMMIT,
    "mark_delivered": MARK_DELIVERED,
    "claim_due": CLAIM_DUE,
    "release_due": RELEASE_DUE,
    "link_identities": LINK_IDENTITIES,
}
# Redis names scripts by their SHA-1; it identifies code here, it protects nothing.
_SHAS = {source: hashlib.sha1(source.encode()).hexdigest() for source in _SCRIPTS.values()}  # noqa: S324


RedisClient = aioredis.Redis | RedisCluster


def _shown(value: bytes) -> str:
    """A stored value for an error message: short, printable."""
    return repr(bytes(value)[:24].decode(errors="replace"))


def _marks(
    key: str, fields: dict[Any, Any], revision: int
) -> tuple[set[int], dict[int, int], dict[int, str], set[int]]:
    """The delivery marks among a conversation's hash fields, each checked.

    A mark names a committed revision (1 to ``revision``); ``dlv`` holds 1, ``dlp`` a count,
    ``dlf`` a reason of at most ``MAX_FAILURE_REASON`` characters of UTF-8, ``dls`` holds 1.

    Raises:
        SnapshotError: a mark out of range, or a field flowhq does not write.
    """
    delivered: set[int] = set()
    progress: dict[int, int] = {}
    failures: dict[int, str] = {}
    stalled: set[int] = set()
    for name, value in fields.items():
        if name in (b"doc", b"rev"):
            continue
        kind = bytes(name[:4])
        marked = parse_count(bytes(name[4:]))
        if kind not in (b"dlv:", b"dlp:", b"dlf:", b"dls:"):
            raise SnapshotError(key, f"unknown field {_shown(name)} in the conversation's hash")
        if marked is None or marked > revision:
            raise SnapshotError(key, f"delivery mark {_shown(name)} names no committed revision")
        if kind in (b"dlv:", b"dls:"):
            if value != b"1":
                raise SnapshotError(key, f"delivery mark {_shown(name)} holds {_shown(value)}")
            (delivered if kind == b"dlv:" else stalled).add(marked)
        elif kind == b"dlp:":
            count = parse_count(bytes(value))
            if count is None:
                raise SnapshotError(key, f"delivery mark {_shown(name)} holds {_shown(value)}")
            progress[marked] = count
        else:
            try:
                reason = bytes(value).decode()
            except UnicodeDecodeError:
                reason = None
            if reason is None or len(reason) > MAX_FAILURE_REASON:
                raise SnapshotError(key, f"delivery mark {_shown(name)} holds no short text")
            failures[marked] = reason
    return delivered, progress, failures, stalled


def _seen_args(seen: Seen | None) -> list[str]:
    """ARGV 5-9 of the commit script: the message and how long its id is kept."""
    if seen is None:
        return ["", "0", "0", "0", "0"]
    keep_ms = str(max(1, int(seen.keep * 1000)))
    return [seen.message_id, repr(seen.at), repr(seen.since), str(seen.limit), keep_ms]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _flatten(config: Any) -> list[tuple[object, object]]:
    """CONFIG GET pairs from a server (``{k: v}``) or a cluster (``{node: {k: v}}``)."""
    pairs: list[tuple[object, object]] = []
    for key, value in dict(config).items():
        if isinstance(value, dict):
            pairs.extend(value.items())
        else:
            pairs.append((key, value))
    return pairs


class RedisStore:
    """Store of conversation documents in Redis or Redis Cluster.

    Args:
        client: A ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster``. Use
            ``decode_responses=False`` (the default); the store decodes what it reads.
        prefix: Namespace of the keys.
        codec: How documents are encoded (default: JSON via cattrs).
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = "flowhq",
        codec: Codec | None = None,
        timer_shards: int = TIMER_SHARDS,
    ) -> None:
        self.client = client
        self.keys = KeyBuilder(prefix)
        self.timer_shards = timer_shards
        self._claim_from = 0
        self.codec: Codec = codec or JsonCodec()
        self._scripts_loaded = False
        self._loading = asyncio.Lock()
        self._durability_checked = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cluster: bool = False,
        prefix: str = "flowhq",
        timeout: float = 2.0,
        retries: int = 3,
        token_keys: Sequence[bytes | str] | None = None,
        **options: Any,
    ) -> RedisStore:
        """Connect with a pooled client, timeouts and retries with exponential backoff.

        Args:
            url: ``redis://``, ``rediss://`` or ``unix://`` URL.
            cluster: Connect to a Redis Cluster through this seed node.
            prefix: Namespace of the keys.
            timeout: Socket connect and read timeout in seconds.
            retries: Retries on connection errors and timeouts before giving up.
            token_keys: Keys that encrypt auth tokens at rest, newest first (needs
                ``flowhq[crypto]``; see :mod:`flowhq.persistence.secrets`).
            options: Passed on to the redis-py client.
        """
        settings: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
            **options,
        }
        client: RedisClient
        if cluster:
            # The cluster client retries connection errors and timeouts itself, refreshing
            # its slot map between tries; `retry_on_error` is for single servers.
            client = RedisCluster.from_url(url, **settings)
        else:
            settings.setdefault("retry_on_error", [RedisConnectionError, RedisTimeoutError])
            client = aioredis.from_url(url, health_check_interval=30, **settings)  # type: ignore[no-untyped-call]
        return cls(client, prefix=prefix, codec=JsonCodec(token_keys=token_keys))

    def __repr__(self) -> str:
        kind = "cluster" if isinstance(self.client, RedisCluster) else "redis"
        return f"RedisStore({kind}, prefix={self.keys.prefix!r})"

    async def _load_scripts(self) -> None:
        # One task loads the scripts while the others wait, instead of every task hitting
        # NOSCRIPT and sending SCRIPT LOAD at once after a restart or failover.
        async with self._loading:
            if not self._scripts_loaded:
                for source in _SCRIPTS.values():
                    await cast(Awaitable[str], self.client.script_load(source))
                self._scripts_loaded = True

    async def _eval(self, script: str, key: str | Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` by its SHA on ``key`` (or keys), loading the scripts when needed.

        The server loses them on restart, SCRIPT FLUSH or failover.
        """
        keys = [key] if isinstance(key, str) else list(key)
        if not self._scripts_loaded:
            await self._load_scripts()
        call = self.client.evalsha
        try:
            return await cast(Awaitable[Any], call(_SHAS[script], len(keys), *keys, *args))
        except NoScriptError:
            self._scripts_loaded = False
            await self._load_scripts()
            return await cast(Awaitable[Any], call(_SHAS[script], len(keys), *keys, *args))

    async def _call(self, pending: Awaitable[Any] | Any) -> Any:
        """Await a redis-py command, turning lasting connection failures into ours.

        redis-py types its commands as "sync or async"; here they are always awaitable.
        """
        try:
            return await pending
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailableError(f"Redis is unreachable: {exc}") from exc

    def _loaded(self, key: ConversationKey, fields: dict[Any, Any]) -> Loaded:
        """Build a ``Loaded`` from the hash's fields (bytes keys as redis-py returns them).

        Every field is checked (``_marks``); a field flowhq does not write is refused, like an
        unknown field of the document: a newer flowhq's field is never misread.
        """
        if not fields:
            return Loaded(None)
        doc, rev = fields.get(b"doc"), fields.get(b"rev")
        if doc is None or rev is None:
            raise SnapshotError(str(key), "a foreign hash is stored at this key")
        revision = parse_count(bytes(rev))
        if revision is None:
            raise SnapshotError(str(key), f"revision {_shown(rev)} is not a positive number")
        delivered, progress, failures, stalled = _marks(str(key), fields, revision)
        raw = bytes(doc)
        document = self.codec.decode(str(key), raw)
        check_stored(key, document, revision)
        return Loaded(
            document, revision, frozenset(delivered), progress, failures, raw, frozenset(stalled)
        )

    async def load(self, key: ConversationKey) -> Loaded:
        """Return the document at ``key`` with its revision and delivered mark (one HGETALL).

        Raises:
            SnapshotError: the value is not a flowhq document (e.g. another type of key).
            StoreUnavailableError: Redis stays unreachable.
        """
        redis_key = self.keys.key(key)
        try:
            fields = await self._call(self.client.hgetall(redis_key))
        except ResponseError as exc:
            raise SnapshotError(str(key), f"Redis refused to read it: {exc}") from None
        return self._loaded(key, fields)

    async def commit(
        self,
        key: ConversationKey,
        document: ConversationDocument,
        *,
        expected: int,
        ttl: int | None = None,
        forget: Collection[int] = (),
        wake_at: float | None = None,
        digest: str | None = None,
        seen: Seen | None = None,
    ) -> CommitResult:
        """Write ``document`` if the revision is still ``expected``, atomically (one EVALSHA).

        With ``seen``, the message's id is checked against (and added to) the ids of the
        conversation's messages, a sorted set beside its hash in the same slot.

        With ``digest``, the script also compares the stored document's SHA-1 with it. With
        ``wake_at``, the timer index entry is lowered in the same round trip (a pipeline:
        ``ZADD LT`` first, then the commit; see ``Store.commit``).

        Raises:
            SnapshotError: the key holds something that is not a flowhq conversation.
            StoreUnavailableError: Redis stays unreachable.
        """
        raw = self.codec.encode(document)
        ttl_ms = int(ttl * 1000) if ttl else 0
        keys = [self.keys.key(key), self.keys.seen(key)]
        args = [str(expected), raw, str(ttl_ms), digest or "", *_seen_args(seen), *forget]
        try:
            if wake_at is None:
                reply = await self._call(self._eval(COMMIT, keys, args))
            else:
                reply = await self._call(self._commit_waking(key, args, wake_at))
        except ResponseError as exc:
            raise SnapshotError(str(key), f"Redis refused the commit: {exc}") from None
        status = int(reply[0])
        if status == -1:
            raise SnapshotError(str(key), "a foreign hash is stored at this key; not overwriting")
        if status == 1:
            return CommitResult(True, int(reply[1]), raw=raw)
        if status == 2:
            return CommitResult(False, expected, duplicate=True)
        flat = reply[1]
        current = self._loaded(key, dict(zip(flat[::2], flat[1::2], strict=True)))
        return CommitResult(False, current.revision, current)

    async def mark_delivered(
        self,
        key: ConversationKey,
        revisions: Collection[int],
        *,
        progress: Mapping[int, int] | None = None,
        failures: Mapping[int, str] | None = None,
        stalled: Collection[int] = (),
    ) -> None:
        """Record delivery marks of ``key`` (one EVALSHA; see ``Store.mark_delivered``)."""
        args: list[str | int] = []
        for revision in stalled:
            args += [f"dls:{revision}", 1]
        for revision in revisions:
            args += [f"dlv:{revision}", 1]
        for revision, count in (progress or {}).items():
            args += [f"dlp:{revision}", count]
        for revision, reason in (failures or {}).items():
            args += [f"dlf:{revision}", reason[:MAX_FAILURE_REASON]]
        if args:
            await self._call(self._eval(MARK_DELIVERED, self.keys.key(key), args))

    async def _commit_waking(self, key: ConversationKey, args: list[Any], wake_at: float) -> Any:
        """The commit, with the timer index entry lowered to ``wake_at`` in the same trip.

        On one Redis, a pipeline sends the ``ZADD LT`` first. On a cluster (where redis-py
        pipelines no scripts) both go out at once, to their own nodes.
        """
        keys = [self.keys.key(key), self.keys.seen(key)]
        index, member = self._index_of(key), self.keys.member(key)
        lowered: Any
        if isinstance(self.client, RedisCluster):
            lowered, reply = await asyncio.gather(
                self.client.zadd(index, {member: wake_at}, lt=True),
                self._eval(COMMIT, keys, args),
                return_exceptions=True,
            )
        else:
            if not self._scripts_loaded:
                await self._load_scripts()
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(index, {member: wake_at}, lt=True)
                pipe.evalsha(_SHAS[COMMIT], len(keys), *keys, *args)
                lowered, reply = await pipe.execute(raise_on_error=False)
            if isinstance(reply, NoScriptError):  # the index was lowered: harmless alone
                self._scripts_loaded = False
                reply = await self._eval(COMMIT, keys, args)
        if isinstance(reply, BaseException):
            raise reply
        for attempt in range(3):  # the commit may have landed: its timer must be indexed
            if not isinstance(lowered, BaseException):
                return reply
            logger.warning("timer index of %s not written (%s); retrying", key, lowered)
            await asyncio.sleep(0.05 * 2**attempt)
            try:
                lowered = await self.client.zadd(index, {member: wake_at}, lt=True)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                lowered = exc
        raise StoreUnavailableError(f"Redis did not take the timer index entry of {key}")

    def _index_of(self, key: ConversationKey) -> str:
        return self.keys.timers(self.keys.timer_shard(key, self.timer_shards))

    async def claim_due(self, now: float, *, limit: int, lease: float) -> list[Claim]:
        """Take due conversations from every shard in one pipeline (see ``Store.claim_due``).

        Each shard gives up to ``limit / shards`` (rounded up), starting from a shard that
        rotates between calls, so a busy shard cannot starve the others.
        """
        if not self._scripts_loaded:
            await self._load_scripts()
        shards = self.timer_shards
        per_shard = max(1, -(-limit // shards))
        token = repr(now + lease)
        start, self._claim_from = self._claim_from, (self._claim_from + 1) % shards
        order = [(start + offset) % shards for offset in range(shards)]
        replies = await self._call(self._claim(order, repr(now), per_shard, token))
        claims = []
        for members in replies:
            for member in members:
                key = self.keys.parse_member(_text(member))
                if key is not None:
                    claims.append(Claim(key, float(token)))
        return claims

    async def _claim(
        self, shards: list[int], now: str, limit: int, token: str, *, again: bool = True
    ) -> list[Any]:
        """Run the claim script on ``shards``: one pipeline, or at once on a cluster."""
        if isinstance(self.client, RedisCluster):
            return list(
                await asyncio.gather(
                    *(
                        self._eval(CLAIM_DUE, self.keys.timers(shard), [now, limit, token])
                        for shard in shards
                    )
                )
            )
        async with self.client.pipeline(transaction=False) as pipe:
            for shard in shards:
                pipe.evalsha(_SHAS[CLAIM_DUE], 1, self.keys.timers(shard), now, str(limit), token)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        missing = [s for s, r in zip(shards, replies, strict=True) if isinstance(r, NoScriptError)]
        if missing and again:  # Redis lost its scripts meanwhile: the claims that ran stand
            self._scripts_loaded = False
            await self._load_scripts()
            replies = [r for r in replies if not isinstance(r, NoScriptError)]
            replies += await self._claim(missing, now, limit, token, again=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def release_due(self, claim: Claim, wake_at: float | None) -> None:
        """Settle a claimed entry (one EVALSHA; see ``Store.release_due``)."""
        args = [
            self.keys.member(claim.key),
            repr(claim.token),
            "" if wake_at is None else repr(wake_at),
        ]
        await self._call(self._eval(RELEASE_DUE, self._index_of(claim.key), args))

    async def timers_due(self, now: float) -> int:
        """Conversations with a due timer index entry, over every shard (one pipeline)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for shard in range(self.timer_shards):
                pipe.zcount(self.keys.timers(shard), "-inf", repr(now))
            counts = await self._call(pipe.execute())
        return sum(int(count) for count in counts)

    async def link_identities(
        self, channel: str, identifiers: Sequence[str], *, address: str | None = None
    ) -> str:
        """Link several ids of one user to one conversation, in one script (see ``Store``).

        Raises:
            StoreUnavailableError: Redis stays unreachable.
        """
        if not identifiers:
            raise ValueError("link_identities needs at least one identifier")
        args = [address or "", *identifiers]
        reply = await self._call(self._eval(LINK_IDENTITIES, self.keys.identities(channel), args))
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    async def identity_address(self, channel: str, identifier: str) -> str | None:
        """Where replies to the conversation ``identifier`` go now, if recorded.

        Raises:
            StoreUnavailableError: Redis stays unreachable.
        """
        field = f"to:{identifier}"
        reply = await self._call(self.client.hget(self.keys.identities(channel), field))
        return reply.decode() if isinstance(reply, bytes) else reply

    async def delete(self, key: ConversationKey) -> bool:
        """Delete the conversation and its timer index entry; return whether it existed.

        The ids of its messages stay until they expire: a delivery Meta retries after a
        reset is still known as one.
        """
        redis_key = self.keys.key(key)
        member = self.keys.member(key)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(redis_key)
            pipe.zrem(self._index_of(key), member)
            pipe.zrem(self.keys.paused(), member)
            deleted, _, _ = await self._call(pipe.execute())
        return bool(deleted)

    async def mark_paused(self, key: ConversationKey, since: float | None) -> None:
        """Index the conversation as paused since ``since`` (``None``: not paused)."""
        member = self.keys.member(key)
        if since is None:
            await self._call(self.client.zrem(self.keys.paused(), member))
        else:
            await self._call(self.client.zadd(self.keys.paused(), {member: since}))

    async def paused(self, limit: int) -> list[tuple[ConversationKey, float]]:
        """The newest ``limit`` conversations indexed as paused, with when they paused."""
        if limit <= 0:
            return []
        newest = self.client.zrevrange(self.keys.paused(), 0, limit - 1, withscores=True)
        found = []
        for member, score in await self._call(newest):
            key = self.keys.parse_member(_text(member))
            if key is not None:
                found.append((key, float(score)))
        return found

    async def scan(self) -> AsyncIterator[ConversationKey]:
        """Iterate over every stored conversation (every primary of a cluster)."""
        try:
            async for raw in self.client.scan_iter(match=self.keys.pattern(), count=500):
                name = raw.decode() if isinstance(raw, bytes) else str(raw)
                key = self.keys.parse(name)
                if key is not None:
                    yield key
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailableError(f"Redis is unreachable: {exc}") from exc

    async def scan_page(self, cursor: str, count: int) -> tuple[list[ConversationKey], str]:
        """One ``SCAN`` step on a single Redis; on a cluster, a slice of a full scan.

        A cluster's SCAN cursor belongs to one node, so a page there reads every key and
        cuts its slice (the cursor is the next offset): fine for an inspector's pages.
        """
        if isinstance(self.client, RedisCluster):
            everything = sorted([key async for key in self.scan()], key=str)
            start = int(cursor) if cursor.isdecimal() else 0
            end = start + max(1, count)
            return everything[start:end], str(end) if end < len(everything) else "0"
        step = self.client.scan(cursor=int(cursor or 0), match=self.keys.pattern(), count=count)
        next_cursor, raw = await self._call(step)
        keys = [self.keys.parse(_text(name)) for name in raw]
        return [key for key in keys if key is not None], str(int(next_cursor))

    async def size(self) -> int:
        """Keys in the database (every primary of a cluster).

        The conversations, when the database is flowhq's alone; an upper bound otherwise
        (update queues and other keys count too).
        """
        if isinstance(self.client, RedisCluster):
            counting = self.client.dbsize(target_nodes=RedisCluster.PRIMARIES)
        else:
            counting = self.client.dbsize()
        size: Mapping[Any, Any] | int = await self._call(counting)
        return sum(size.values()) if isinstance(size, Mapping) else int(size)

    async def check_durability(self) -> bool | None:
        """Report whether AOF is on; warn once when it is off.

        Returns:
            ``True``/``False`` for AOF on/off, ``None`` when the server refuses CONFIG
            (managed services often do).
        """
        try:
            config = await self._call(self.client.config_get("appendonly"))
        except ResponseError:
            return None
        # A cluster answers for every primary; each must have AOF on.
        flags = [_text(v) for k, v in _flatten(config) if _text(k) == "appendonly"]
        enabled = bool(flags) and all(flag == "yes" for flag in flags)
        if not enabled and not self._durability_checked:
            logger.warning(
                "Redis AOF is off: a committed conversation step can be lost if Redis crashes. "
                "Set `appendonly yes` (and `appendfsync always` or `everysec`)."
            )
        self._durability_checked = True
        return enabled

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

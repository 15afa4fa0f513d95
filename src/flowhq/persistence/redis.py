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
from flowhq.persistence.codec import Codec, JsonCodec
from flowhq.persistence.keys import KeyBuilder
from flowhq.persistence.store import CommitResult, ConversationKey, Loaded, check_owner
from flowhq.state.document import ConversationDocument

__all__ = ["RedisStore"]

logger = logging.getLogger("flowhq.persistence")

# KEYS[1] the conversation; ARGV: expected revision (decimal string), document, TTL in ms
# (0: no expiry), then revisions whose delivery marks can go. Returns {1, new_rev},
# {0, HGETALL} on a conflict (so the retry needs no load), or {-1} when a foreign hash is at
# the key. Revisions are compared as strings and bumped with HINCRBY: Lua numbers are
# doubles, which lose exactness past 2^53.
COMMIT = """
local rev = redis.call('HGET', KEYS[1], 'rev')
if rev == false and redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1}
end
if (rev or '0') ~= ARGV[1] then
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'rev', 1)
for i = 4, #ARGV do
  redis.call('HDEL', KEYS[1], 'dlv:' .. ARGV[i], 'dlp:' .. ARGV[i], 'dlf:' .. ARGV[i])
end
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('PERSIST', KEYS[1])
end
return {1, redis.call('HGET', KEYS[1], 'rev')}
"""

# KEYS[1] the conversation; ARGV: field, value pairs of delivery marks (dlv:<rev> all
# delivered, dlp:<rev> how many went out, dlf:<rev> dropped after a permanent failure).
# Nothing is created for a conversation that is gone.
MARK_DELIVERED = """
if redis.call('HEXISTS', KEYS[1], 'rev') == 0 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""


_SCRIPTS = {"commit": COMMIT, "mark_delivered": MARK_DELIVERED}
# Redis names scripts by their SHA-1; it identifies code here, it protects nothing.
_SHAS = {source: hashlib.sha1(source.encode()).hexdigest() for source in _SCRIPTS.values()}  # noqa: S324


RedisClient = aioredis.Redis | RedisCluster


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
        self, client: RedisClient, *, prefix: str = "flowhq", codec: Codec | None = None
    ) -> None:
        self.client = client
        self.keys = KeyBuilder(prefix)
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

    async def _eval(self, script: str, key: str, args: Sequence[Any]) -> Any:
        """Run ``script`` by its SHA, loading the scripts when the server lacks them.

        The server loses them on restart, SCRIPT FLUSH or failover.
        """
        if not self._scripts_loaded:
            await self._load_scripts()
        try:
            return await cast(Awaitable[Any], self.client.evalsha(_SHAS[script], 1, key, *args))
        except NoScriptError:
            self._scripts_loaded = False
            await self._load_scripts()
            return await cast(Awaitable[Any], self.client.evalsha(_SHAS[script], 1, key, *args))

    async def _call(self, pending: Awaitable[Any] | Any) -> Any:
        """Await a redis-py command, turning lasting connection failures into ours.

        redis-py types its commands as "sync or async"; here they are always awaitable.
        """
        try:
            return await pending
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailableError(f"Redis is unreachable: {exc}") from exc

    def _loaded(self, key: ConversationKey, fields: dict[Any, Any]) -> Loaded:
        """Build a ``Loaded`` from the hash's fields (bytes keys as redis-py returns them)."""
        if not fields:
            return Loaded(None)
        doc, rev = fields.get(b"doc"), fields.get(b"rev")
        if doc is None or rev is None:
            raise SnapshotError(str(key), "a foreign hash is stored at this key")
        delivered: set[int] = set()
        progress: dict[int, int] = {}
        failures: dict[int, str] = {}
        try:
            revision = int(rev)
            for name, value in fields.items():
                kind, revision_text = name[:4], name[4:]
                if kind == b"dlv:":
                    delivered.add(int(revision_text))
                elif kind == b"dlp:":
                    progress[int(revision_text)] = int(value)
                elif kind == b"dlf:":
                    failures[int(revision_text)] = bytes(value).decode(errors="replace")
        except ValueError:
            raise SnapshotError(str(key), "revision or delivery mark is not a number") from None
        raw = bytes(doc)
        document = self.codec.decode(str(key), raw)
        check_owner(key, document)
        return Loaded(document, revision, frozenset(delivered), progress, failures, raw)

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
    ) -> CommitResult:
        """Write ``document`` if the revision is still ``expected``, atomically (one EVALSHA).

        Raises:
            SnapshotError: the key holds something that is not a flowhq conversation.
            StoreUnavailableError: Redis stays unreachable.
        """
        raw = self.codec.encode(document)
        ttl_ms = int(ttl * 1000) if ttl else 0
        redis_key = self.keys.key(key)
        try:
            reply = await self._call(
                self._eval(COMMIT, redis_key, [str(expected), raw, str(ttl_ms), *forget])
            )
        except ResponseError as exc:
            raise SnapshotError(str(key), f"Redis refused the commit: {exc}") from None
        status = int(reply[0])
        if status == -1:
            raise SnapshotError(str(key), "a foreign hash is stored at this key; not overwriting")
        if status == 1:
            return CommitResult(True, int(reply[1]), raw=raw)
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
    ) -> None:
        """Record delivery marks of ``key`` (one EVALSHA; see ``Store.mark_delivered``)."""
        args: list[str | int] = []
        for revision in revisions:
            args += [f"dlv:{revision}", 1]
        for revision, count in (progress or {}).items():
            args += [f"dlp:{revision}", count]
        for revision, reason in (failures or {}).items():
            args += [f"dlf:{revision}", reason]
        if args:
            await self._call(self._eval(MARK_DELIVERED, self.keys.key(key), args))

    async def delete(self, key: ConversationKey) -> bool:
        """Delete the conversation; return whether it existed."""
        redis_key = self.keys.key(key)
        return bool(await self._call(self.client.delete(redis_key)))

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

"""In-memory store: the embedded default, with the same contract as ``RedisStore``.

Documents go through the real codec, so a flow that works here serialises in Redis too.
Not shared between processes, and not thread-safe: one event loop owns it.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence

from attrs import define, field

from flowhq.messaging.key import ConversationKey
from flowhq.persistence.codec import Codec, JsonCodec
from flowhq.persistence.identity import IdentityBook
from flowhq.persistence.integrity import MAX_FAILURE_REASON
from flowhq.persistence.store import (
    Claim,
    CommitResult,
    Loaded,
    Seen,
    check_stored,
    digest_of,
)
from flowhq.state.document import ConversationDocument

__all__ = ["MemoryStore"]


@define
class _Entry:
    raw: bytes
    revision: int
    delivered: set[int]
    expires_at: float | None
    progress: dict[int, int] = field(factory=dict)
    failures: dict[int, str] = field(factory=dict)
    stalled: set[int] = field(factory=set)


@define
class _Seen:
    times: dict[str, float] = field(factory=dict)
    floor: float | None = None
    expires_at: float = 0.0
    # No time in `times` is earlier (it may be later: a bound, exact after each pruning), so a
    # commit prunes only when something may have expired: once per window, not every time.
    oldest: float = math.inf


class MemoryStore:
    """Keeps conversations in a dict, with revision compare-and-set like ``RedisStore``.

    Args:
        codec: How documents are encoded (default: JSON via cattrs).
        token_keys: Keys that encrypt auth tokens at rest (as ``RedisStore.from_url``).
    """

    def __init__(
        self, *, codec: Codec | None = None, token_keys: Sequence[bytes | str] | None = None
    ) -> None:
        self.codec: Codec = codec or JsonCodec(token_keys=token_keys)
        self._entries: dict[ConversationKey, _Entry] = {}
        self._seen: dict[ConversationKey, _Seen] = {}
        # The timer index: the score of each conversation, and a heap of (score, key) whose
        # stale pairs (another score since) are skipped when they come up.
        self._wake: dict[ConversationKey, float] = {}
        self._heap: list[tuple[float, str, ConversationKey]] = []
        self._paused: dict[ConversationKey, float] = {}  # the paused index (docs/handoff.md)
        self._next_sweep = 0.0
        self._identities = IdentityBook()

    def __repr__(self) -> str:
        return f"MemoryStore(conversations={len(self._entries)})"

    def _live(self, key: ConversationKey) -> _Entry | None:
        self._sweep()
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.expires_at is not None
            and entry.expires_at <= time.monotonic()
        ):
            del self._entries[key]
            return None
        return entry

    def _sweep(self) -> None:
        """Drop expired conversations, at most once a second (memory stays bounded by TTL)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        expired = [
            key
            for key, entry in self._entries.items()
            if entry.expires_at is not None and entry.expires_at <= now
        ]
        for key in expired:
            del self._entries[key]
        for key in [key for key, ids in self._seen.items() if ids.expires_at <= now]:
            del self._seen[key]

    def _loaded(self, key: ConversationKey, entry: _Entry | None) -> Loaded:
        if entry is None:
            return Loaded(None)
        document = self.codec.decode(str(key), entry.raw)
        check_stored(key, document, entry.revision)
        return Loaded(
            document,
            entry.revision,
            frozenset(entry.delivered),
            dict(entry.progress),
            dict(entry.failures),
            entry.raw,
            frozenset(entry.stalled),
        )

    async def load(self, key: ConversationKey) -> Loaded:
        """Return the document at ``key`` with its revision and delivered revisions."""
        return self._loaded(key, self._live(key))

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
        """Write ``document`` if the revision is still ``expected``; see ``Store.commit``."""
        if wake_at is not None:
            self._lower(key, wake_at)
        if seen is not None and self._has_seen(key, seen):
            return CommitResult(False, expected, duplicate=True)
        entry = self._live(key)
        revision = entry.revision if entry else 0
        moved = digest is not None and (entry is None or digest_of(entry.raw) != digest)
        if revision != expected or moved:
            return CommitResult(False, revision, self._loaded(key, entry))
        raw = self.codec.encode(document)
        expires_at = time.monotonic() + ttl if ttl else None
        gone = set(forget)
        if entry is None:
            self._entries[key] = _Entry(raw, revision + 1, set(), expires_at)
        else:
            entry.raw, entry.revision, entry.expires_at = raw, revision + 1, expires_at
            entry.delivered -= gone
            entry.stalled -= gone
            for marks in (entry.progress, entry.failures):
                for old in gone & set(marks):
                    del marks[old]
        if seen is not None:
            self._remember_seen(key, seen)
        return CommitResult(True, revision + 1, raw=raw)

    def _has_seen(self, key: ConversationKey, seen: Seen) -> bool:
        ids = self._seen.get(key)
        if ids is None or ids.expires_at <= time.monotonic():
            return False
        return seen.message_id in ids.times or (ids.floor is not None and seen.at <= ids.floor)

    def _remember_seen(self, key: ConversationKey, seen: Seen) -> None:
        """As the Redis commit script: add, forget the old, keep at most ``limit`` and a floor."""
        ids = self._seen.get(key)
        if ids is None or ids.expires_at <= time.monotonic():
            ids = self._seen[key] = _Seen()
        ids.times[seen.message_id] = seen.at
        ids.oldest = min(ids.oldest, seen.at)
        if ids.oldest < seen.since:
            ids.times = {m: t for m, t in ids.times.items() if t >= seen.since}
            ids.oldest = min(ids.times.values(), default=math.inf)
        if ids.floor is not None and ids.floor < seen.since:
            ids.floor = None
        extra = len(ids.times) - seen.limit
        if extra > 0:
            by_age = heapq.nsmallest(extra, ids.times.items(), key=lambda item: (item[1], item[0]))
            for message_id, _ in by_age:
                del ids.times[message_id]
            newest_gone = by_age[-1][1]
            ids.floor = max(newest_gone, ids.floor if ids.floor is not None else newest_gone)
        ids.expires_at = time.monotonic() + seen.keep

    async def mark_delivered(
        self,
        key: ConversationKey,
        revisions: Collection[int],
        *,
        progress: Mapping[int, int] | None = None,
        failures: Mapping[int, str] | None = None,
        stalled: Collection[int] = (),
    ) -> None:
        """Record delivery marks of ``key`` (see ``Store.mark_delivered``)."""
        entry = self._live(key)
        if entry is not None:
            entry.stalled.update(stalled)
            entry.delivered.update(revisions)
            entry.progress.update(progress or {})
            entry.failures.update(
                (revision, reason[:MAX_FAILURE_REASON])
                for revision, reason in (failures or {}).items()
            )

    async def link_identities(
        self, channel: str, identifiers: Sequence[str], *, address: str | None = None
    ) -> str:
        """Link several ids of one user to one conversation (see ``Store``)."""
        return self._identities.link(channel, identifiers, address)

    async def identity_address(self, channel: str, identifier: str) -> str | None:
        """Where replies to the conversation ``identifier`` go now, if recorded."""
        return self._identities.address(channel, identifier)

    async def delete(self, key: ConversationKey) -> bool:
        """Delete the conversation (and its index entries); return whether it existed."""
        self._wake.pop(key, None)
        self._paused.pop(key, None)
        return self._entries.pop(key, None) is not None

    async def mark_paused(self, key: ConversationKey, since: float | None) -> None:
        """Index the conversation as paused since ``since`` (``None``: not paused)."""
        if since is None:
            self._paused.pop(key, None)
        else:
            self._paused[key] = since

    async def paused(self, limit: int) -> list[tuple[ConversationKey, float]]:
        """The newest ``limit`` conversations indexed as paused, with when they paused."""
        newest = sorted(self._paused.items(), key=lambda item: (-item[1], str(item[0])))
        return newest[:limit]

    def _set(self, key: ConversationKey, score: float) -> None:
        self._wake[key] = score
        heapq.heappush(self._heap, (score, str(key), key))

    def _lower(self, key: ConversationKey, score: float) -> None:
        current = self._wake.get(key)
        if current is None or score < current:
            self._set(key, score)

    async def claim_due(self, now: float, *, limit: int, lease: float) -> list[Claim]:
        """Take up to ``limit`` due conversations; see ``Store.claim_due``."""
        claims: list[Claim] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(claims) < limit:
            score, _, key = heapq.heappop(heap)
            if self._wake.get(key) != score:
                continue  # superseded by a later write
            token = now + lease
            self._set(key, token)
            claims.append(Claim(key, token))
        return claims

    async def release_due(self, claim: Claim, wake_at: float | None) -> None:
        """Settle a claimed entry; see ``Store.release_due``."""
        current = self._wake.get(claim.key)
        if current is None:
            return
        if current == claim.token:
            if wake_at is None:
                del self._wake[claim.key]
            else:
                self._set(claim.key, wake_at)
        elif wake_at is not None:
            self._lower(claim.key, wake_at)

    async def timers_due(self, now: float) -> int:
        """How many conversations have a due timer index entry."""
        return sum(1 for score in self._wake.values() if score <= now)

    async def scan(self) -> AsyncIterator[ConversationKey]:
        """Iterate over the stored conversation keys (a snapshot of them)."""
        for key in list(self._entries):
            if self._live(key) is not None:
                yield key

    async def scan_page(self, cursor: str, count: int) -> tuple[list[ConversationKey], str]:
        """A slice of the keys in a stable order; the cursor is the next offset."""
        everything = sorted([key async for key in self.scan()], key=str)
        start = int(cursor) if cursor.isdecimal() else 0
        end = start + max(1, count)
        return everything[start:end], str(end) if end < len(everything) else "0"

    async def size(self) -> int:
        """How many conversations are stored (expired ones not counted)."""
        return len([key async for key in self.scan()])

    async def close(self) -> None:
        """Nothing to release."""

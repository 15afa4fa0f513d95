"""In-memory store: the embedded default, with the same contract as ``RedisStore``.

Documents go through the real codec, so a flow that works here serialises in Redis too.
Not shared between processes, and not thread-safe: one event loop owns it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection

from attrs import define

from flowhq.persistence.codec import Codec, JsonCodec
from flowhq.persistence.store import CommitResult, ConversationKey, Loaded
from flowhq.state.document import ConversationDocument

__all__ = ["MemoryStore"]


@define
class _Entry:
    raw: bytes
    revision: int
    delivered: set[int]
    expires_at: float | None


class MemoryStore:
    """Keeps conversations in a dict, with revision compare-and-set like ``RedisStore``.

    Args:
        codec: How documents are encoded (default: JSON via cattrs).
    """

    def __init__(self, *, codec: Codec | None = None) -> None:
        self._codec = codec or JsonCodec()
        self._entries: dict[ConversationKey, _Entry] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(conversations={len(self._entries)})"

    def _live(self, key: ConversationKey) -> _Entry | None:
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.expires_at is not None
            and entry.expires_at <= time.monotonic()
        ):
            del self._entries[key]
            return None
        return entry

    def _loaded(self, key: ConversationKey, entry: _Entry | None) -> Loaded:
        if entry is None:
            return Loaded(None)
        return Loaded(
            self._codec.decode(str(key), entry.raw), entry.revision, frozenset(entry.delivered)
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
    ) -> CommitResult:
        """Write ``document`` if the revision is still ``expected``; see ``Store.commit``."""
        entry = self._live(key)
        revision = entry.revision if entry else 0
        if revision != expected:
            return CommitResult(False, revision, self._loaded(key, entry))
        expires_at = time.monotonic() + ttl if ttl else None
        delivered = entry.delivered - set(forget) if entry else set()
        self._entries[key] = _Entry(
            self._codec.encode(document), revision + 1, delivered, expires_at
        )
        return CommitResult(True, revision + 1)

    async def mark_delivered(self, key: ConversationKey, revisions: Collection[int]) -> None:
        """Record ``revisions`` of ``key`` as delivered."""
        entry = self._live(key)
        if entry is not None:
            entry.delivered.update(revisions)

    async def delete(self, key: ConversationKey) -> bool:
        """Delete the conversation; return whether it existed."""
        return self._entries.pop(key, None) is not None

    async def scan(self) -> AsyncIterator[ConversationKey]:
        """Iterate over the stored conversation keys (a snapshot of them)."""
        for key in list(self._entries):
            if self._live(key) is not None:
                yield key

    async def close(self) -> None:
        """Nothing to release."""

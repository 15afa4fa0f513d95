"""The store protocol: where conversation documents live.

A store is a map from :class:`ConversationKey` to a document plus two counters: the
document's *revision* (bumped by every commit, the compare-and-set token) and the highest
revision whose outbox was confirmed *delivered*. Both stores implement the same contract and
are tested by one suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Protocol

from attrs import frozen

from flowhq.state.document import ConversationDocument
from flowhq.state.key import ConversationKey

__all__ = ["CommitResult", "ConversationKey", "Loaded", "Store"]


@frozen
class Loaded:
    """What a load returns.

    The document (``None`` when absent), its revision, and the revisions whose outbox
    entries were confirmed delivered.
    """

    document: ConversationDocument | None
    revision: int = 0
    delivered: frozenset[int] = frozenset()


@frozen
class CommitResult:
    """Outcome of a compare-and-set commit.

    On success ``revision`` is the new revision. On a conflict ``current`` holds what the
    store has now, so the retry needs no extra load.
    """

    ok: bool
    revision: int
    current: Loaded | None = None


class Store(Protocol):
    """Persistence seam used by ``Headquarters`` and the CLI; nothing else touches storage."""

    async def load(self, key: ConversationKey) -> Loaded:
        """Return the document at ``key`` with its revision and delivered mark."""
        ...

    async def commit(
        self,
        key: ConversationKey,
        document: ConversationDocument,
        *,
        expected: int,
        ttl: int | None = None,
        forget: Collection[int] = (),
    ) -> CommitResult:
        """Write ``document`` only if the stored revision is still ``expected``.

        Args:
            key: The conversation.
            document: The whole new document (inbox and outbox included).
            expected: The revision the step was computed from (0: no document yet).
            ttl: Seconds until the conversation expires, or ``None`` to keep it.
            forget: Delivered revisions whose entries left the outbox; their marks can go.
        """
        ...

    async def mark_delivered(self, key: ConversationKey, revisions: Collection[int]) -> None:
        """Record that the outbox entries of ``revisions`` reached the messenger."""
        ...

    async def delete(self, key: ConversationKey) -> bool:
        """Delete the conversation; return whether it existed."""
        ...

    def scan(self) -> AsyncIterator[ConversationKey]:
        """Iterate over every stored conversation key."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

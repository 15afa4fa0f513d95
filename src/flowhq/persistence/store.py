"""The store protocol: where conversation documents live.

A store is a map from :class:`ConversationKey` to a document, its *revision* (bumped by
every commit, the compare-and-set token) and delivery marks: which commits' replies went out
(all of them, some of them, or were dropped after a permanent failure). Both stores
implement the same contract and are tested by one suite.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Protocol

from attrs import field, frozen

from flowhq.errors import SnapshotError
from flowhq.messaging.key import ConversationKey
from flowhq.persistence.codec import Codec
from flowhq.persistence.integrity import MAX_COUNT
from flowhq.state.document import ConversationDocument

__all__ = ["Claim", "CommitResult", "Loaded", "Seen", "Store", "check_stored", "digest_of"]


def digest_of(raw: bytes) -> str:
    """The SHA-1 (hex) of a stored document, as Redis's ``redis.sha1hex`` spells it.

    It tells a document from another one that was written over it (a corruption, an
    operator's fix) without comparing the bytes. An accident detector, not a defence: whoever
    can write to the store can write anything.
    """
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


@frozen
class Loaded:
    """What a load returns.

    The document (``None`` when absent), its revision, the revisions whose outbox entries
    were all delivered (or dropped after a permanent failure), how many entries of a
    revision went out before a failure (``progress``), and the permanent failures recorded
    by the delivery (revision -> reason), which the next step writes into the document.
    """

    document: ConversationDocument | None
    revision: int = 0
    delivered: frozenset[int] = frozenset()
    progress: Mapping[int, int] = field(factory=dict)
    failures: Mapping[int, str] = field(factory=dict)
    raw: bytes | None = field(default=None, repr=False)
    """The document as stored (to rebuild an untouched copy after a step rolls back).

    A store must set it whenever ``document`` is set.
    """
    stalled: frozenset[int] = frozenset()
    """Revisions whose sending failed for now (and will be retried): nobody is sending them,
    so whichever process handles the conversation next sends them first, in order."""

    @property
    def digest(self) -> str | None:
        """The digest of ``raw`` (see :func:`digest_of`), for ``Store.commit(digest=...)``."""
        return digest_of(self.raw) if self.raw is not None else None

    def marks(self) -> frozenset[int]:
        """Every revision with a delivery mark of any kind (they go with the next commit)."""
        return self.delivered | frozenset(self.progress) | frozenset(self.failures)


@frozen
class CommitResult:
    """Outcome of a compare-and-set commit.

    On success ``revision`` is the new revision. On a conflict ``current`` holds what the
    store has now, so the retry needs no extra load.
    """

    ok: bool
    revision: int
    current: Loaded | None = None
    raw: bytes | None = field(default=None, repr=False)
    """On success, the document as now stored."""
    duplicate: bool = False
    """Refused because the message was processed before (``Seen``); nothing was written."""


@frozen
class Seen:
    """The inbound message a commit processes, for deduplication beyond the document's inbox.

    The store keeps the ids of the conversation's messages beside it (scored by their time)
    and refuses a commit whose message it has seen. Ids older than ``since`` are forgotten
    (deliveries that old are refused before any step); past ``limit`` ids the oldest go, and
    the time of the newest that went becomes a floor: a message from before it counts as seen
    (a very late first delivery of it would be lost; it takes ``limit`` messages in the
    window to get there).

    Attributes:
        message_id: The channel's id of the message.
        at: Its time (epoch seconds): when the user sent it, else when it arrived.
        since: Ids seen before this time are forgotten.
        limit: How many ids a conversation keeps at most.
        keep: Seconds the ids are kept after the conversation's last commit.
    """

    message_id: str
    at: float
    since: float
    limit: int
    keep: float


@frozen
class Claim:
    """A conversation taken from the timer index by ``claim_due``.

    ``token`` is the score the claim wrote (when the claim lapses); ``release_due`` uses it
    to tell whether a step lowered the entry meanwhile.
    """

    key: ConversationKey
    token: float


class Store(Protocol):
    """Persistence seam used by ``Headquarters`` and the CLI; nothing else touches storage."""

    codec: Codec
    """How documents are encoded (Headquarters decodes stored bytes again after a rollback)."""

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
        wake_at: float | None = None,
        digest: str | None = None,
        seen: Seen | None = None,
    ) -> CommitResult:
        """Write ``document`` only if the stored revision is still ``expected``.

        A refused commit answers with what is stored now (``CommitResult.current``), decoded
        like a load: a corrupt document raises ``SnapshotError`` then.

        Args:
            key: The conversation.
            document: The whole new document (inbox and outbox included).
            expected: The revision the step was computed from (0: no document yet).
            ttl: Seconds until the conversation expires, or ``None`` to keep it.
            forget: Revisions whose entries left the outbox; their delivery marks can go.
            wake_at: When the document's next timer is due (epoch seconds): the timer
                index entry of the conversation is lowered to it in the same round trip,
                before the commit (an entry left by a commit that then lost is harmless,
                a missing one would lose a timer). ``None`` leaves the index alone.
            digest: ``Loaded.digest`` of the document the step was computed from. When
                given, the commit is also refused if the stored document is another one,
                even at the same revision (written over by hand, or corrupted): a copy kept
                from an earlier commit must never overwrite it unseen.
            seen: The message this commit processes: refused as a duplicate
                (``CommitResult.duplicate``) when the store has seen it, else remembered.
        """
        ...

    async def claim_due(self, now: float, *, limit: int, lease: float) -> list[Claim]:
        """Take up to ``limit`` conversations whose timer index entry is due at ``now``.

        Each claimed entry moves to ``now + lease``: a claimer that dies leaves it to be
        claimed again then. Two claimers never take the same entry.
        """
        ...

    async def release_due(self, claim: Claim, wake_at: float | None) -> None:
        """Set a claimed entry to the conversation's next timer (``None``: remove it).

        If a step lowered the entry since the claim, it is only lowered further.
        """
        ...

    async def timers_due(self, now: float) -> int:
        """How many conversations have a timer index entry due at ``now``."""
        ...

    async def mark_delivered(
        self,
        key: ConversationKey,
        revisions: Collection[int],
        *,
        progress: Mapping[int, int] | None = None,
        failures: Mapping[int, str] | None = None,
        stalled: Collection[int] = (),
    ) -> None:
        """Record delivery of outbox entries.

        Args:
            key: The conversation.
            revisions: Revisions whose entries all reached the messenger (or were dropped).
            progress: Revision -> how many of its entries went out, for partial sends.
            failures: Revision -> reason, for entries dropped after a permanent failure.
            stalled: Revisions whose entries failed to go out for now (kept, retried).
        """
        ...

    async def link_identities(
        self, channel: str, identifiers: Sequence[str], *, address: str | None = None
    ) -> str:
        """Link several ids of one user to one conversation, atomically.

        The first of ``identifiers`` already linked names the conversation (else the first
        one given does); the others are linked to it, and ``address`` becomes where its
        replies go. See :mod:`flowhq.persistence.identity`.

        Returns:
            The conversation's identifier (its canonical id).
        """
        ...

    async def identity_address(self, channel: str, identifier: str) -> str | None:
        """Where replies to the conversation ``identifier`` go now, if one was recorded."""
        ...

    async def delete(self, key: ConversationKey) -> bool:
        """Delete the conversation; return whether it existed."""
        ...

    async def mark_paused(self, key: ConversationKey, since: float | None) -> None:
        """Index the conversation as paused since ``since`` (epoch seconds; ``None``: not).

        The index is a hint for listing: written before the commit that pauses and after
        the one that resumes, so it may name a conversation that is not paused (readers
        check the document), never miss one that is.
        """
        ...

    async def paused(self, limit: int) -> list[tuple[ConversationKey, float]]:
        """The newest ``limit`` conversations indexed as paused, with when they paused."""
        ...

    def scan(self) -> AsyncIterator[ConversationKey]:
        """Iterate over every stored conversation key."""
        ...

    async def scan_page(self, cursor: str, count: int) -> tuple[list[ConversationKey], str]:
        """About ``count`` keys from ``cursor`` ("0" to begin) and the next cursor ("0": done).

        For pages of an inspector: a key may show on two pages when the store changes
        between calls, and every key present throughout shows on one.
        """
        ...

    async def size(self) -> int | None:
        """How many conversations are stored, if the store can tell cheaply (else ``None``)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def check_stored(key: ConversationKey, document: ConversationDocument, revision: int) -> None:
    """Refuse a document that does not fit where it is stored.

    Raises:
        SnapshotError: the document names another channel or user, its revision is out of
            range, or its outbox holds replies of a revision not committed yet.
    """
    channel = document.channel
    if channel.type != key.channel or channel.identifier != key.identifier:
        raise SnapshotError(str(key), "the document belongs to another conversation; not using it")
    if not 1 <= revision <= MAX_COUNT:
        raise SnapshotError(str(key), f"revision {revision} is out of range")
    for entry in document.outbox:
        if entry.revision > revision:
            raise SnapshotError(
                str(key), f"the outbox holds replies of revision {entry.revision} > {revision}"
            )

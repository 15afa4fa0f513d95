"""Delivery bookkeeping: which committed replies to send now, sending them, marking them.

Replies leave only after their commit (DESIGN §4, step 8). Each commit's replies are
outbox entries tagged with its revision; once sent, the revision is marked delivered in the
store (or partly delivered: how many of its entries went out), and the next commit drops
the delivered entries. A process sends:

- its own commit's entries, right after the commit;
- entries whose send failed (or was cancelled) in this process, before anything newer;
- entries older than ``redelivery_after``: their sender died before marking them;
- the entries of a message that arrives again (a webhook retried after a crash), once
  their original sender has had ``duplicate_grace`` seconds to send them.

A permanent failure (the user cannot be reached) drops the entries and records why; a
temporary one keeps them for the next try. At-least-once: a crash between the send and the
mark sends them again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from attrs import frozen

from flowhq.errors import DeliveryError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import OutboundMessage
from flowhq.persistence.store import Loaded, Store
from flowhq.state.document import OutboxEntry

__all__ = ["Delivery", "Pending"]

logger = logging.getLogger("flowhq.delivery")

FAILED_LIMIT = 10_000
"""Conversations whose failed sends this process remembers (oldest forgotten first)."""


@frozen
class Pending:
    """An outbox entry due for sending, with its position among its commit's entries."""

    entry: OutboxEntry
    seq: int

    @property
    def revision(self) -> int:
        """The revision of the commit that produced it."""
        return self.entry.revision


def pending(loaded: Loaded) -> list[Pending]:
    """The outbox entries of ``loaded`` not yet delivered, in commit order."""
    document = loaded.document
    if document is None:
        return []
    seen: dict[int, int] = {}
    found: list[Pending] = []
    done = loaded.delivered | frozenset(loaded.failures)
    for entry in document.outbox:
        seq = seen.get(entry.revision, 0)
        seen[entry.revision] = seq + 1
        if entry.revision in done or seq < loaded.progress.get(entry.revision, 0):
            continue
        found.append(Pending(entry, seq))
    return found


def message_of(entry: OutboxEntry) -> OutboundMessage:
    """The outbound message an outbox entry holds."""
    return OutboundMessage(
        entry.text,
        entry.buttons,
        tag=entry.tag,
        descriptions=entry.descriptions,
        menu_label=entry.menu_label,
        offset=entry.offset,
    )


class Delivery:
    """Sends committed replies through a messenger and keeps the marks in the store.

    Args:
        messenger: Where replies go.
        store: Where delivery marks are kept.
        redelivery_after: Seconds after which an undelivered reply counts as lost.
        duplicate_grace: Seconds a retried message waits for its original sender.
    """

    def __init__(
        self,
        messenger: Messenger,
        store: Store,
        *,
        redelivery_after: float,
        duplicate_grace: float,
    ) -> None:
        self.messenger = messenger
        self.store = store
        self.redelivery_after = redelivery_after
        self.duplicate_grace = duplicate_grace
        # Revisions whose send failed (or was cancelled) in this process: nobody else is
        # sending them, so the next handling sends them at once, before its own.
        self._failed: OrderedDict[ConversationKey, set[int]] = OrderedDict()

    def due(
        self, key: ConversationKey, loaded: Loaded, *, own: int | None, age: float | None = None
    ) -> list[Pending]:
        """Entries this process should send now, in commit order (see the module docs)."""
        failed = self._failed.get(key, set())
        cutoff = time.time() - (self.redelivery_after if age is None else age)
        due = [
            p
            for p in pending(loaded)
            if p.revision == own or p.revision in failed or p.entry.queued_at <= cutoff
        ]
        if failed:
            self._forget(key, failed - {p.revision for p in due})
        return due

    def of_message(self, loaded: Loaded, message_id: str) -> list[Pending]:
        """Undelivered entries produced by ``message_id`` (a retried webhook's replies)."""
        return [p for p in pending(loaded) if p.entry.message_id == message_id]

    async def deliver(self, key: ConversationKey, due: Sequence[Pending]) -> bool:
        """Send ``due`` in order and mark what went out. Returns whether all of it did."""
        if not due:
            return True
        messages = [message_of(p.entry) for p in due]
        error: DeliveryError | None = None
        try:
            await self.messenger.send(key, messages)
        except DeliveryError as exc:
            error = exc
        except asyncio.CancelledError:
            self._remember(key, {p.revision for p in due})
            raise
        except Exception as exc:  # a messenger that fails without saying how: keep all
            logger.exception("messenger failed for %s; replies stay in the outbox", key)
            error = DeliveryError(type(exc).__name__)
        sent = len(due) if error is None else max(0, min(error.sent, len(due)))
        await self._mark(key, due, sent, error)
        return error is None

    async def _mark(
        self, key: ConversationKey, due: Sequence[Pending], sent: int, error: DeliveryError | None
    ) -> None:
        # A revision is done when its last due entry went out, else it progressed that far.
        last_of: dict[int, Pending] = {p.revision: p for p in due}
        done = {p.revision for p in due[:sent] if p is last_of[p.revision]}
        progress = {p.revision: p.seq + 1 for p in due[:sent] if p.revision not in done}
        failures: dict[int, str] = {}
        if error is not None:
            failing = [p.revision for p in due[sent:]]
            if error.permanent:
                reason = error.reason if error.code is None else f"{error.code}: {error.reason}"
                for revision in failing:
                    failures[revision] = reason[:500]
                    progress.pop(revision, None)
                logger.warning(
                    "replies to %s dropped after a permanent delivery failure: %s",
                    key,
                    reason,
                )
            else:
                self._remember(key, set(failing))
                logger.warning("replies to %s stay in the outbox: %s", key, error)
        if done or progress or failures:
            await self.store.mark_delivered(key, done, progress=progress, failures=failures)
        self._forget(key, done | set(failures))

    def _remember(self, key: ConversationKey, revisions: set[int]) -> None:
        self._failed.setdefault(key, set()).update(revisions)
        self._failed.move_to_end(key)
        while len(self._failed) > FAILED_LIMIT:
            self._failed.popitem(last=False)

    def _forget(self, key: ConversationKey, revisions: Iterable[int]) -> None:
        failed = self._failed.get(key)
        if failed is None:
            return
        failed.difference_update(revisions)
        if not failed:
            del self._failed[key]

    @property
    def remembered(self) -> int:
        """How many conversations have failed sends remembered (bounded)."""
        return len(self._failed)

"""Delivery: which committed replies to send now, sending them, marking them.

Replies leave only after their commit (docs/architecture.md, the message cycle). Each
commit's replies are outbox entries tagged with its revision; once sent, the revision is
marked delivered in the store (or partly delivered: how many of its entries went out), and
the next commit drops the delivered entries. A process sends:

- its own commit's entries, right after the commit;
- entries whose send failed (or was cancelled): in this process, or in any process, which
  marks them stalled in the store; they go before anything newer, so order holds even when
  the process that failed to send them died;
- entries older than ``redelivery_after``: their sender died before marking them;
- the entries of a message that arrives again (a webhook retried after a crash), once
  their original sender has had ``duplicate_grace`` seconds to send them.

A permanent failure (the user cannot be reached) drops the entries and records why; a
temporary one keeps them for the next try. At-least-once: a crash between the send and the
mark sends them again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from flowhq.errors import DeliveryError, SnapshotError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import OutboundMessage
from flowhq.persistence.store import Loaded
from flowhq.runtime.conversations import Conversations
from flowhq.runtime.outbox import Pending, message_of, pending
from flowhq.runtime.settings import Clock, DeliveryOptions, system_clock
from flowhq.state.document import ConversationDocument

__all__ = ["WINDOW_CLOSED", "Delivery", "Undeliverable"]

WINDOW_CLOSED = (
    "outside the channel's customer-service window (the user last wrote too long ago); "
    "only approved templates may be sent"
)

Undeliverable = Callable[[ConversationKey, list[OutboundMessage], str], "Awaitable[None] | None"]
"""Called with replies that cannot be sent at all, and why."""

logger = logging.getLogger("flowhq.delivery")

FAILED_LIMIT = 10_000
"""Conversations whose failed sends this process remembers (oldest forgotten first)."""


class Delivery:
    """Sends committed replies through a messenger and keeps the marks in the store.

    Without a messenger nothing is sent: replies are handed back in the ``Outcome`` and
    nothing is kept in the outbox.

    Args:
        messenger: Where replies go (``None``: the caller sends them).
        conversations: The locks, cache and store the conversations live in.
        options: When lost replies are sent again.
        clock: The time, for the channel's service window.
        on_undeliverable: Told about replies that could not be sent at all (outside the
            service window): ``(key, messages, reason)``, sync or async.
    """

    def __init__(
        self,
        messenger: Messenger | None,
        conversations: Conversations,
        options: DeliveryOptions,
        *,
        clock: Clock = system_clock,
        on_undeliverable: Undeliverable | None = None,
    ) -> None:
        self.messenger = messenger
        self.clock = clock
        self.on_undeliverable = on_undeliverable
        self.conversations = conversations
        self.store = conversations.store
        self.redelivery_after = options.redelivery_after
        self.duplicate_grace = options.duplicate_grace
        # Revisions whose send failed (or was cancelled) in this process: nobody else is
        # sending them, so the next handling sends them at once, before its own.
        self._failed: OrderedDict[ConversationKey, set[int]] = OrderedDict()
        self.owed = 0
        """Replies the last ``redeliver`` pass found owed (for the metrics)."""

    async def refuse(self, key: ConversationKey, reply: OutboundMessage) -> bool | None:
        """Send a refusal that no commit records (best effort: ``None`` without messenger)."""
        if self.messenger is None:
            return None
        try:
            await self.messenger.send(key, [reply])
        except Exception:  # nothing was committed; the refusal is best effort
            logger.warning("could not send a refusal to %s", key, exc_info=True)
            return False
        return True

    async def after_commit(self, key: ConversationKey, committed: Loaded) -> bool | None:
        """Send this commit's replies (and any left over); cache what the store now has.

        The caller holds the conversation's lock. Returns whether everything due went out
        (``None`` without messenger). Without messenger the conversations cached the commit
        themselves: no reply is owed.
        """
        if self.messenger is None:
            return None
        owed = pending(committed)
        due = self.due(key, owed, own=committed.revision, stalled=committed.stalled)
        delivered = await self.deliver(key, due, committed.document)
        if delivered and len(due) == len(owed):
            marks = frozenset(p.revision for p in due)
            self.conversations.remember(
                key, Loaded(committed.document, committed.revision, marks, raw=committed.raw)
            )
        else:
            # Partial marks, or replies another sender (maybe another process) still owes:
            # it marks them in the store without a new revision, which a cached copy would
            # never see, and the next message would send them again. Read the store then.
            self.conversations.evict(key)
        return delivered

    async def retried(self, key: ConversationKey, seen: Loaded, message_id: str) -> bool | None:
        """A message seen before: send its replies if they are still pending.

        Its original handling committed but may have crashed before sending. A sender that
        is alive needs a moment: wait ``duplicate_grace`` from the commit, then send what is
        still pending. Returns whether its replies are out (``None`` without messenger).
        """
        if self.messenger is None:
            return None
        if not self.of_message(seen, message_id):
            return True  # the usual retried webhook: its replies went out long ago
        conversations = self.conversations
        for _ in range(2):
            async with conversations.lock(key):
                loaded = await self.store.load(key)
                mine = self.of_message(loaded, message_id)
                if not mine:
                    return True
                wait = max(p.entry.queued_at for p in mine) + self.duplicate_grace
                wait -= time.time()
                if wait <= 0:
                    conversations.evict(key)
                    last = max(p.revision for p in mine)
                    due = [p for p in pending(loaded) if p.revision <= last]  # older first
                    return await self.deliver(key, due, loaded.document)
            await asyncio.sleep(min(wait, self.duplicate_grace))
        return False

    async def redeliver(self, *, older_than: float | None = None) -> int:
        """Send committed but undelivered replies in every conversation; return how many.

        Replies younger than ``older_than`` seconds (default: ``redelivery_after``) are
        skipped: another process is probably sending them. A conversation that cannot be
        read is logged and skipped.
        """
        if self.messenger is None:
            return 0
        sent = owed_total = 0
        conversations = self.conversations
        async for key in self.store.scan():
            try:
                async with conversations.lock(key):
                    loaded = await self.store.load(key)
                    owed = pending(loaded)
                    owed_total += len(owed)
                    due = self.due(key, owed, own=None, age=older_than, stalled=loaded.stalled)
                    if due and await self.deliver(key, due, loaded.document):
                        sent += len(due)
                    conversations.evict(key)
            except SnapshotError as exc:
                logger.error("redeliver: skipping %s: %s", key, exc.reason)
            except Exception:
                logger.exception("redeliver: skipping %s after an error", key)
        self.owed = owed_total
        return sent

    def due(
        self,
        key: ConversationKey,
        owed: Sequence[Pending],
        *,
        own: int | None,
        age: float | None = None,
        stalled: frozenset[int] = frozenset(),
    ) -> list[Pending]:
        """Which of the ``owed`` entries this process sends now, in commit order.

        See the module docs: its own commit's, those whose sending failed (here, or in any
        process: ``stalled``), and lost ones. Older ones go first, so replies keep their
        order even when the process that failed to send them died.
        """
        failed = self._failed.get(key, set()) | stalled
        cutoff = time.time() - (self.redelivery_after if age is None else age)
        due = [
            p
            for p in owed
            if p.revision == own or p.revision in failed or p.entry.queued_at <= cutoff
        ]
        if failed:
            self._forget(key, failed - {p.revision for p in due})
        return due

    def of_message(self, loaded: Loaded, message_id: str) -> list[Pending]:
        """Undelivered entries produced by ``message_id`` (a retried webhook's replies)."""
        return [p for p in pending(loaded) if p.entry.message_id == message_id]

    async def deliver(
        self,
        key: ConversationKey,
        due: Sequence[Pending],
        document: ConversationDocument | None = None,
    ) -> bool:
        """Send ``due`` in order and mark what went out. Returns whether all of it did.

        Outside the channel's service window (``document`` says when the user last wrote)
        nothing is sent: the replies are recorded as undeliverable and dropped.
        """
        if not due:
            return True
        assert self.messenger is not None
        messages = [message_of(p.entry, seq=p.seq) for p in due]
        positions = list(range(len(due)))  # where in `due` each message sent stands
        if document is not None and self._window_closed(document):
            messages, positions = await self._templates_only(key, messages)
            if not messages:
                await self._mark(key, due, 0, DeliveryError(WINDOW_CLOSED, permanent=True))
                return False
        error: DeliveryError | None = None
        try:
            await self.messenger.send(key, messages)
        except DeliveryError as exc:
            error = exc
            if exc.permanent and exc.code in getattr(self.messenger, "window_codes", ()):
                # The channel says the window closed (clocks differ): as if it had here.
                await self._undeliverable(key, messages[max(exc.sent, 0) :], WINDOW_CLOSED)
        except asyncio.CancelledError:
            self._remember(key, {p.revision for p in due})
            raise
        except Exception as exc:  # a messenger that fails without saying how: keep all
            logger.exception("messenger failed for %s; replies stay in the outbox", key)
            error = DeliveryError(type(exc).__name__)
        sent = len(due)
        if error is not None:
            went = max(0, error.sent)
            sent = positions[went] if went < len(positions) else len(due)
        await self._mark(key, due, sent, error)
        return error is None

    async def _templates_only(
        self, key: ConversationKey, messages: list[OutboundMessage]
    ) -> tuple[list[OutboundMessage], list[int]]:
        """What may still go out once the window closed: the templates, and their positions.

        Messages without one are reported undeliverable. When some have a template, the
        others are only reported (a WARNING and ``on_undeliverable``): their commit is
        marked by how its templates fared.
        """
        templates = [message.as_template() for message in messages]
        refused = [m for m, t in zip(messages, templates, strict=True) if t is None]
        if refused:
            await self._undeliverable(key, refused, WINDOW_CLOSED)
        positions = [n for n, template in enumerate(templates) if template is not None]
        return [t for t in templates if t is not None], positions

    def _window_closed(self, document: ConversationDocument) -> bool:
        """Whether the channel's window for free-form replies has closed for this user."""
        window = getattr(self.messenger, "service_window", None)
        if window is None:
            return False
        last = document.metadata.last_inbound_at
        if last is None:
            return True
        elapsed = self.clock().timestamp() - datetime.fromisoformat(last).timestamp()
        return elapsed > float(window)

    async def _undeliverable(
        self, key: ConversationKey, messages: list[OutboundMessage], reason: str
    ) -> None:
        logger.warning("%d replies to %s not sent: %s", len(messages), key, reason)
        if self.on_undeliverable is None:
            return
        try:
            result = self.on_undeliverable(key, messages, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the hook is the operator's; its failure must not lose the step
            logger.exception("on_undeliverable failed for %s", key)

    async def _mark(
        self, key: ConversationKey, due: Sequence[Pending], sent: int, error: DeliveryError | None
    ) -> None:
        # A revision is done when its last due entry went out, else it progressed that far.
        last_of: dict[int, Pending] = {p.revision: p for p in due}
        done = {p.revision for p in due[:sent] if p is last_of[p.revision]}
        progress = {p.revision: p.seq + 1 for p in due[:sent] if p.revision not in done}
        failures: dict[int, str] = {}
        stalled: set[int] = set()
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
                stalled = set(failing)  # in the store too: this process may die before a retry
                logger.warning("replies to %s stay in the outbox: %s", key, error)
        if done or progress or failures or stalled:
            if stalled:
                await self.store.mark_delivered(
                    key, done, progress=progress, failures=failures, stalled=stalled
                )
            else:  # a store written before stalled marks existed still works without them
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

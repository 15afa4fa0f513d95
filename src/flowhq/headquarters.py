"""``Headquarters``: the runner. Load, step, commit, then send (DESIGN §4).

Flow control lives here and in :mod:`flowhq._step`; storage only through the ``Store``;
replies only through the ``Messenger``, after the commit.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from attrs import define, field

from flowhq._step import RollbackError, StepObserver, Stepper, StepRecord, StepResult
from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import ConflictError, InputError, SnapshotError
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.persistence.store import ConversationKey, Loaded, Store
from flowhq.state.document import Channel, ConversationDocument, OutboxEntry, utc_now
from flowhq.statecharts.flow import Flow

__all__ = ["Headquarters", "Outcome", "StepObserver", "StepRecord"]

logger = logging.getLogger("flowhq.headquarters")

MAX_TEXT = 4096
"""Default limit on inbound text length (WhatsApp's own limit for a text message)."""

INBOX_SIZE = 64
"""How many processed message ids a conversation remembers for deduplication."""

_CHANNEL = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")

EMPTY_TEXT = "I received an empty message. Please type your answer."
TOO_LONG = "That message is too long (at most {limit} characters). Please send a shorter one."


@define
class Outcome:
    """What handling one message did.

    Attributes:
        replies: The replies of this step, in order.
        flow: The flow the conversation is in after the step (``None`` if none ran).
        configuration: The chart's active state ids after the step.
        finished: Whether the flow reached a final state.
        duplicate: The message id was already processed; nothing happened.
        revision: The document's revision after the step.
        delivered: Whether the messenger accepted the replies (``None`` without messenger).
        rejected: The input was refused before any I/O (empty, too long).
    """

    replies: list[OutboundMessage] = field(factory=list)
    flow: str | None = None
    configuration: list[str] = field(factory=list)
    finished: bool = False
    duplicate: bool = False
    revision: int = 0
    delivered: bool | None = None
    rejected: bool = False


@define
class _Planned:
    document: ConversationDocument | None
    outcome: Outcome
    record: StepRecord | None = None


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Headquarters:
    """Runs flows for inbound messages and commits every step to the store.

    Args:
        flows: The flow classes this bot runs; the first is the entry flow unless ``entry``.
        store: Where conversations live (``MemoryStore()``, ``RedisStore.from_url(...)``).
        messenger: Delivers replies after each commit. Without one, replies are only returned
            in the ``Outcome`` and nothing is kept in the outbox.
        entry: Name of the flow a new conversation starts.
        api: The httpx client used by ``ApiCall`` and ``make_api_request``.
        ttl: Seconds a conversation is kept after its last message (``None``: forever).
        error_handler: Decides on errors raised inside components.
        max_steps: Bound on transitions per message, to stop loops.
        max_text: Longest accepted inbound text.
        channels: Accepted channel types (default: any well-formed name).
        max_attempts: Commit attempts before ``ConflictError``.
        redelivery_after: Seconds after which a committed reply that is still not marked
            delivered counts as lost (its sender crashed) and is sent again by the next
            handling of the conversation. Younger ones are left to the process sending them,
            so two processes never both send a reply in normal operation.
        observer: Instrumentation hook (``flowhq.testing`` uses it to force results and to
            record the transitions tests exercise); leave it out in production.
    """

    def __init__(
        self,
        *,
        flows: Sequence[type[Flow]],
        store: Store,
        messenger: Messenger | None = None,
        entry: str | None = None,
        api: httpx.AsyncClient | None = None,
        ttl: int | None = None,
        error_handler: ErrorHandler | None = None,
        max_steps: int = 100,
        max_text: int = MAX_TEXT,
        channels: Sequence[str] | None = None,
        max_attempts: int = 10,
        redelivery_after: float = 30.0,
        observer: StepObserver | None = None,
    ) -> None:
        if not flows:
            raise ValueError("Headquarters needs at least one flow")
        self.flows: dict[str, type[Flow]] = {}
        for flow_cls in flows:
            if flow_cls.name in self.flows:
                raise ValueError(f"two flows are named {flow_cls.name!r}")
            self.flows[flow_cls.name] = flow_cls
        entry = entry or flows[0].name
        if entry not in self.flows:
            raise ValueError(f"entry flow {entry!r} is not among {sorted(self.flows)}")
        self.store = store
        self.messenger = messenger
        self.ttl = ttl
        self.max_text = max_text
        self.channels = frozenset(channels) if channels is not None else None
        self.max_attempts = max_attempts
        self.error_handler = error_handler or ErrorHandler()
        self._stepper = Stepper(
            self.flows,
            entry=entry,
            api=api,
            error_handler=self.error_handler,
            max_steps=max_steps,
            observer=observer,
        )
        self._locks: dict[ConversationKey, _KeyLock] = {}
        self.redelivery_after = redelivery_after
        # Revisions whose send failed in this process: nobody else is sending them, so the
        # next handling retries them at once instead of waiting for `redelivery_after`.
        self._failed: dict[ConversationKey, set[int]] = {}

    def __repr__(self) -> str:
        return f"Headquarters(flows={sorted(self.flows)}, store={self.store!r})"

    @property
    def observer(self) -> StepObserver | None:
        """The instrumentation hook (see ``observer`` in the class docs)."""
        return self._stepper.observer

    @observer.setter
    def observer(self, observer: StepObserver | None) -> None:
        self._stepper.observer = observer

    # -- public API -----------------------------------------------------------------------

    async def handle(self, inbound: InboundMessage) -> Outcome:
        """Process one inbound message: load, step, commit, then send the replies.

        Raises:
            InputError: malformed message (before any I/O).
            SnapshotError: the stored document of this conversation is unreadable.
            ConflictError: the commit kept losing to concurrent writers.
            StoreUnavailableError: the store is down.
        """
        key = self._key(inbound.channel, inbound.identifier)
        if not isinstance(inbound.message_id, str) or not inbound.message_id:
            raise InputError("message_id must be a non-empty string")
        refusal = self._refusal(inbound)
        if refusal is not None:
            reply = OutboundMessage(refusal)
            delivered = await self._send(key, [reply]) if self.messenger else None
            return Outcome(replies=[reply], rejected=True, delivered=delivered)

        async def step(loaded: Loaded) -> _Planned:
            document = loaded.document
            if document is not None and inbound.message_id in document.inbox:
                return _Planned(
                    None,
                    Outcome(
                        duplicate=True,
                        revision=loaded.revision,
                        flow=document.current.path,
                        configuration=list(document.chart.configuration),
                    ),
                )
            return await self._step(key, loaded, inbound=inbound)

        return await self._transact(key, step)

    async def start(self, channel: str, identifier: str, flow: str | None = None) -> Outcome:
        """Begin ``flow`` (default: the entry flow) without an inbound message.

        Any flow the conversation was in is left. Use it for business-initiated conversations.
        """
        key = self._key(channel, identifier)
        name = flow or self._stepper.entry
        if name not in self.flows:
            raise InputError(f"unknown flow {name!r}; known: {sorted(self.flows)}")

        async def step(loaded: Loaded) -> _Planned:
            return await self._step(key, loaded, inbound=None, begin=name)

        return await self._transact(key, step)

    async def initialize(
        self,
        channel: str,
        identifier: str,
        *,
        dashboard: Mapping[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        auth_token: str | None = None,
    ) -> int:
        """Set a conversation's protected state (API-sourced data, auth token).

        Returns:
            The document's new revision.
        """
        key = self._key(channel, identifier)

        async def step(loaded: Loaded) -> _Planned:
            document = self._working_copy(key, loaded)
            if dashboard is not None:
                document.dashboard = copy.deepcopy(dict(dashboard))
            if action is not None:
                document.action = copy.deepcopy(dict(action))
            if auth_token is not None:
                document.auth.token = auth_token
            return _Planned(document, Outcome())

        outcome = await self._transact(key, step)
        return outcome.revision

    async def redeliver(self, *, older_than: float | None = None) -> int:
        """Send committed but undelivered replies, in every conversation.

        Call it at start-up after a crash (``older_than=0``) or periodically. Replies younger
        than ``older_than`` seconds (default: ``redelivery_after``) are skipped: another
        process is probably sending them. Returns the number of replies sent.
        """
        if self.messenger is None:
            return 0
        age = self.redelivery_after if older_than is None else older_than
        sent = 0
        async for key in self.store.scan():
            async with self._serialized(key):
                try:
                    loaded = await self.store.load(key)
                except SnapshotError as exc:
                    logger.error("redeliver: skipping %s: %s", key, exc.reason)
                    continue
                due = self._due(key, loaded, own=None, age=age)
                if due and await self._deliver(key, due):
                    sent += len(due)
        return sent

    # -- the cycle ------------------------------------------------------------------------

    def _key(self, channel: str, identifier: str) -> ConversationKey:
        if not isinstance(channel, str) or not _CHANNEL.match(channel):
            raise InputError(f"malformed channel {channel!r}")
        if self.channels is not None and channel not in self.channels:
            raise InputError(f"unknown channel {channel!r}; accepted: {sorted(self.channels)}")
        if not isinstance(identifier, str) or not identifier.strip() or len(identifier) > 256:
            raise InputError("identifier must be a non-empty string of at most 256 characters")
        return ConversationKey(channel, identifier)

    def _refusal(self, inbound: InboundMessage) -> str | None:
        blank = inbound.text is None or not inbound.text.strip()
        if inbound.kind == "text" and inbound.payload is None and blank:
            return EMPTY_TEXT
        if inbound.text is not None and len(inbound.text) > self.max_text:
            return TOO_LONG.format(limit=self.max_text)
        return None

    @asynccontextmanager
    async def _serialized(self, key: ConversationKey) -> AsyncIterator[None]:
        """One message of a conversation at a time in this process; idle locks are dropped."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _KeyLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]

    async def _transact(
        self, key: ConversationKey, step: Callable[[Loaded], Awaitable[_Planned]]
    ) -> Outcome:
        async with self._serialized(key):
            loaded = await self.store.load(key)
            for attempt in range(1, self.max_attempts + 1):
                planned = await step(loaded)
                outcome = planned.outcome
                if planned.document is None:
                    if outcome.duplicate and self.messenger is not None:
                        due = self._due(key, loaded, own=None, age=self.redelivery_after)
                        if due:
                            await self._deliver(key, due)
                    return outcome
                result = await self.store.commit(
                    key,
                    planned.document,
                    expected=loaded.revision,
                    ttl=self.ttl,
                    forget=loaded.delivered,  # their entries left the outbox above
                )
                if result.ok:
                    outcome.revision = result.revision
                    if self.observer is not None and planned.record is not None:
                        self.observer.committed(planned.record)
                    if self.messenger is not None:
                        committed = Loaded(planned.document, result.revision, frozenset())
                        due = self._due(
                            key, committed, own=result.revision, age=self.redelivery_after
                        )
                        outcome.delivered = await self._deliver(key, due)
                    return outcome
                assert result.current is not None
                logger.debug("conflict on %s (attempt %d)", key, attempt)
                expected = loaded.revision
                loaded = result.current
                if attempt < self.max_attempts:
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311
            raise ConflictError(str(key), expected, loaded.revision, self.max_attempts)

    def _working_copy(self, key: ConversationKey, loaded: Loaded) -> ConversationDocument:
        if loaded.document is None:
            return ConversationDocument(channel=Channel(key.channel, key.identifier))
        document = copy.deepcopy(loaded.document)
        # Delivered entries leave the outbox with this commit.
        document.outbox = [e for e in document.outbox if e.revision not in loaded.delivered]
        return document

    async def _step(
        self,
        key: ConversationKey,
        loaded: Loaded,
        *,
        inbound: InboundMessage | None,
        begin: str | None = None,
    ) -> _Planned:
        document = self._working_copy(key, loaded)
        try:
            step: StepResult = await self._stepper.run(
                document, revision=loaded.revision, inbound=inbound, begin=begin
            )
            replies = step.replies
            record: StepRecord | None = step.record
            outcome = Outcome(
                replies=list(replies),
                flow=step.flow,
                configuration=step.configuration,
                finished=step.finished,
            )
        except RollbackError as rollback:
            # Keep the conversation where it was; remember the message and the error.
            record = None
            document = self._working_copy(key, loaded)
            decision = self.error_handler.handle(
                rollback.error, component=rollback.component, document=document, handles_error=False
            )
            replies = [OutboundMessage(decision.apology or self.error_handler.apology)]
            outcome = Outcome(
                replies=list(replies),
                flow=document.current.path,
                configuration=list(document.chart.configuration),
            )
        if inbound is not None:
            document.inbox.append(inbound.message_id)
            del document.inbox[:-INBOX_SIZE]
        if self.messenger is not None:
            revision = loaded.revision + 1
            now = time.time()
            document.outbox.extend(
                OutboxEntry(revision, m.text, list(m.buttons), now) for m in replies
            )
        document.metadata.updated_at = utc_now()
        return _Planned(document, outcome, record)

    # -- delivery -------------------------------------------------------------------------

    def _due(
        self, key: ConversationKey, loaded: Loaded, *, own: int | None, age: float
    ) -> list[OutboxEntry]:
        """Outbox entries this process should send now, in commit order.

        Its own commit's entries; entries whose send failed here before; and entries older
        than ``age`` seconds, whose sender presumably died before confirming them.
        """
        if loaded.document is None:
            return []
        failed = self._failed.get(key, set())
        cutoff = time.time() - age
        return [
            e
            for e in loaded.document.outbox
            if e.revision not in loaded.delivered
            and (e.revision == own or e.revision in failed or e.queued_at <= cutoff)
        ]

    async def _deliver(self, key: ConversationKey, entries: Sequence[OutboxEntry]) -> bool:
        """Send committed outbox entries, then mark their revisions delivered. At-least-once."""
        if not entries:
            return True
        revisions = {e.revision for e in entries}
        messages = [OutboundMessage(e.text, e.buttons) for e in entries]
        if not await self._send(key, messages):
            self._failed.setdefault(key, set()).update(revisions)
            return False
        await self.store.mark_delivered(key, sorted(revisions))
        failed = self._failed.get(key)
        if failed is not None:
            failed -= revisions
            if not failed:
                del self._failed[key]
        return True

    async def _send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> bool:
        assert self.messenger is not None
        try:
            await self.messenger.send(key, messages)
        except Exception:  # the replies stay in the outbox and are sent again later
            logger.exception("messenger failed for %s; replies stay in the outbox", key)
            return False
        return True

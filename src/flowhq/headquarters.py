"""``Headquarters``: the runner. Load, step, commit, then send (DESIGN §4).

Flow control lives here and in :mod:`flowhq.runtime.step`; storage only through the ``Store``;
replies only through the ``Messenger``, after the commit (:mod:`flowhq.runtime.delivery`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from attrs import define, field

from flowhq.components.api_call import ApiCall
from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import ConflictError, FlowDefinitionError, InputError, SnapshotError
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.persistence.store import ConversationKey, Loaded, Store
from flowhq.runtime.delivery import Delivery, pending
from flowhq.runtime.step import RollbackError, StepObserver, Stepper, StepRecord, StepResult
from flowhq.state.document import Channel, ConversationDocument, OutboxEntry, utc_now
from flowhq.state.json_values import has_lone_surrogate, storable_copy
from flowhq.state.manager import ApiSettings, record
from flowhq.state.secrets import normalize_token
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.model import all_states

__all__ = ["Headquarters", "Outcome", "StepObserver", "StepRecord"]

logger = logging.getLogger("flowhq.headquarters")

MAX_TEXT = 4096
"""Default limit on inbound text length (WhatsApp's own limit for a text message)."""

MAX_ID = 256
"""Longest accepted message id, identifier or payload."""

INBOX_SIZE = 64
"""How many processed message ids a conversation remembers for deduplication."""

CACHE_SIZE = 10_000
"""Conversations whose last committed document a process keeps (saves the load)."""

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
        record: What the step fired and which transitions it took (``None`` when nothing
            ran: a duplicate, a rejection, a rolled-back step).
    """

    replies: list[OutboundMessage] = field(factory=list)
    flow: str | None = None
    configuration: list[str] = field(factory=list)
    finished: bool = False
    duplicate: bool = False
    revision: int = 0
    delivered: bool | None = None
    rejected: bool = False
    record: StepRecord | None = None


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


def _check_text(value: object, what: str, *, limit: int | None = MAX_ID) -> None:
    """Refuse a non-string, an over-long string or one JSON cannot store (lone surrogates)."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, not {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise InputError(f"{what} is longer than {limit} characters")
    if has_lone_surrogate(value):
        raise InputError(f"{what} contains a lone surrogate (not valid Unicode text)")


class Headquarters:
    """Runs flows for inbound messages and commits every step to the store.

    Args:
        flows: The flow classes this bot runs; the first is the entry flow unless ``entry``.
        store: Where conversations live (``MemoryStore()``, ``RedisStore.from_url(...)``).
        messenger: Delivers replies after each commit. Without one, replies are only returned
            in the ``Outcome`` and nothing is kept in the outbox.
        entry: Name of the flow a new conversation starts.
        api: The httpx client used by ``ApiCall`` and ``make_api_request``. Required when a
            flow has an ``ApiCall``.
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
        duplicate_grace: Seconds a retried message (a duplicate whose replies are still
            pending) leaves their original sender before sending them itself.
        api_timeout: Seconds per API request attempt (default: the ``api`` client's own;
            ``ApiCall(timeout=...)`` overrides).
        api_retries: Extra attempts after a timeout, a connection error or a 5xx answer.
        api_backoff: Seconds before the first API retry (doubled each time, with jitter).
        cache: Keep each conversation's last committed document in this process, so its
            next message needs no load: one round trip per message when this process
            handled the previous one. A stale copy only costs the commit's conflict
            answer, which carries the current document.
        observer: Instrumentation hook (``flowhq.testing`` uses it to force results and to
            record the transitions tests exercise); leave it out in production.

    Raises:
        ValueError: no flows, two flows with one name, an unknown entry flow.
        FlowDefinitionError: a flow calls APIs but no ``api`` client was given, or the
            messenger reports texts or options its channel cannot show.
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
        max_attempts: int = 20,
        redelivery_after: float = 30.0,
        duplicate_grace: float = 2.0,
        api_timeout: float | None = None,
        api_retries: int = 2,
        api_backoff: float = 0.2,
        cache: bool = True,
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
        _check_api(flows, api)
        check = getattr(messenger, "check_flows", None)
        if check is not None:
            problems = check(list(flows))
            if problems:
                raise FlowDefinitionError(type(messenger).__name__, problems)
        self.store = store
        self.messenger = messenger
        self.ttl = ttl
        self.max_text = max_text
        self.channels = frozenset(channels) if channels is not None else None
        self.max_attempts = max_attempts
        self.redelivery_after = redelivery_after
        self.error_handler = error_handler or ErrorHandler()
        self._stepper = Stepper(
            self.flows,
            entry=entry,
            api=ApiSettings(api, api_timeout, api_retries, api_backoff),
            error_handler=self.error_handler,
            max_steps=max_steps,
            observer=observer,
        )
        self._delivery = (
            Delivery(
                messenger,
                store,
                redelivery_after=redelivery_after,
                duplicate_grace=duplicate_grace,
            )
            if messenger is not None
            else None
        )
        self._locks: dict[ConversationKey, _KeyLock] = {}
        self._cache: OrderedDict[ConversationKey, Loaded] | None = OrderedDict() if cache else None

    def __repr__(self) -> str:
        return f"Headquarters(flows={sorted(self.flows)}, store={self.store!r})"

    @property
    def observer(self) -> StepObserver | None:
        """The instrumentation hook (see ``observer`` in the class docs)."""
        return self._stepper.observer

    @observer.setter
    def observer(self, observer: StepObserver | None) -> None:
        self._stepper.observer = observer

    @property
    def entry(self) -> str:
        """The name of the flow a new conversation starts."""
        return self._stepper.entry

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
        self._check_inbound(inbound)
        refusal = self._refusal(inbound)
        if refusal is not None:
            reply = OutboundMessage(refusal)
            delivered = None
            if self.messenger is not None:
                try:
                    await self.messenger.send(key, [reply])
                    delivered = True
                except Exception:  # nothing was committed; the refusal is best effort
                    logger.warning("could not send a refusal to %s", key, exc_info=True)
                    delivered = False
            return Outcome(replies=[reply], rejected=True, delivered=delivered)

        seen: Loaded | None = None

        async def step(loaded: Loaded) -> _Planned:
            nonlocal seen
            document = loaded.document
            if document is not None and inbound.message_id in document.inbox:
                seen = loaded
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

        outcome = await self._transact(key, step)
        if outcome.duplicate and self._delivery is not None:
            assert seen is not None
            if self._delivery.of_message(seen, inbound.message_id):
                outcome.delivered = await self._retried(key, inbound.message_id)
            else:  # the usual retried webhook: its replies went out long ago
                outcome.delivered = True
        return outcome

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

        The token is stripped of surrounding whitespace; one with control characters is
        refused (it could not be sent in a header, and the error would show it).

        Returns:
            The document's new revision.

        Raises:
            InputError: a token that cannot be used, or data JSON cannot hold.
        """
        key = self._key(channel, identifier)
        token = None
        if auth_token is not None:
            try:
                token = normalize_token(auth_token)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        updates = {"dashboard": dashboard, "action": action}
        copies: dict[str, dict[str, Any]] = {}
        for name, data in updates.items():
            if data is not None:
                try:
                    copies[name] = storable_copy(dict(data), f"{name} data")
                except TypeError as exc:
                    raise InputError(str(exc)) from None

        async def step(loaded: Loaded) -> _Planned:
            document = self._working_copy(key, loaded)
            if "dashboard" in copies:
                document.dashboard = copies["dashboard"]
            if "action" in copies:
                document.action = copies["action"]
            if token is not None:
                document.auth.token = token
            return _Planned(document, Outcome())

        outcome = await self._transact(key, step)
        return outcome.revision

    async def redeliver(self, *, older_than: float | None = None) -> int:
        """Send committed but undelivered replies, in every conversation.

        Call it at start-up after a crash (``older_than=0``) or periodically (the WhatsApp
        webhook app does). Replies younger than ``older_than`` seconds (default:
        ``redelivery_after``) are skipped: another process is probably sending them. A
        conversation that cannot be read is logged and skipped. Returns the number of
        replies sent.
        """
        if self._delivery is None:
            return 0
        sent = 0
        async for key in self.store.scan():
            try:
                async with self._serialized(key):
                    loaded = await self.store.load(key)
                    due = self._delivery.due(key, loaded, own=None, age=older_than)
                    if due and await self._delivery.deliver(key, due):
                        sent += len(due)
                    self._evict(key)
            except SnapshotError as exc:
                logger.error("redeliver: skipping %s: %s", key, exc.reason)
            except Exception:
                logger.exception("redeliver: skipping %s after an error", key)
        return sent

    async def pending(self, channel: str, identifier: str) -> list[OutboundMessage]:
        """The question the conversation waits on, rendered again; nothing is committed.

        For a terminal or a console resuming a stored conversation (show the user where
        they are). Empty when nothing waits.
        """
        key = self._key(channel, identifier)
        loaded = await self.store.load(key)
        if loaded.document is None:
            return []
        return self._stepper.pending(loaded.document, revision=loaded.revision)

    async def aclose(self) -> None:
        """Close what the Headquarters was given: the store, the messenger, the API client."""
        close = getattr(self.messenger, "aclose", None)
        if close is not None:
            await close()
        client = self._stepper.api.client
        if client is not None:
            await client.aclose()
        await self.store.close()

    async def last_inbound(self, channel: str, identifier: str) -> str | None:
        """When the user last wrote (ISO-8601 UTC), or ``None``.

        WhatsApp lets a business answer freely for 24 hours after that (the customer
        service window); later, only approved templates.
        """
        loaded = await self.store.load(self._key(channel, identifier))
        return loaded.document.metadata.last_inbound_at if loaded.document else None

    # -- the cycle ------------------------------------------------------------------------

    def _key(self, channel: str, identifier: str) -> ConversationKey:
        if not isinstance(channel, str) or not _CHANNEL.match(channel):
            shown = channel if isinstance(channel, str) else type(channel).__name__
            raise InputError(f"malformed channel {shown!r}")
        if self.channels is not None and channel not in self.channels:
            raise InputError(f"unknown channel {channel!r}; accepted: {sorted(self.channels)}")
        _check_text(identifier, "identifier")
        if not identifier.strip():
            raise InputError("identifier must be a non-empty string")
        return ConversationKey(channel, identifier)

    def _check_inbound(self, inbound: InboundMessage) -> None:
        _check_text(inbound.message_id, "message_id")
        if not inbound.message_id:
            raise InputError("message_id must be a non-empty string")
        _check_text(inbound.kind, "kind", limit=32)
        if inbound.payload is not None:
            _check_text(inbound.payload, "payload")
        if inbound.tag is not None:
            _check_text(inbound.tag, "tag", limit=32)
        if inbound.text is not None:
            _check_text(inbound.text, "text", limit=None)
        if inbound.title is not None:
            _check_text(inbound.title, "title", limit=None)

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

    async def _load(self, key: ConversationKey) -> Loaded:
        cache = self._cache
        if cache is not None:
            cached = cache.pop(key, None)
            if cached is not None:
                return cached
        return await self.store.load(key)

    def _evict(self, key: ConversationKey) -> None:
        if self._cache is not None:
            self._cache.pop(key, None)

    def _remember(self, key: ConversationKey, loaded: Loaded) -> None:
        cache = self._cache
        if cache is None:
            return
        if self._delivery is not None and pending(loaded):
            # Another sender (maybe another process) still owes replies: it marks them in
            # the store without a new revision, which a cached copy would never see, and
            # the next message would send them again. Read the store next time instead.
            cache.pop(key, None)
            return
        cache[key] = loaded
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    async def _transact(
        self, key: ConversationKey, step: Callable[[Loaded], Awaitable[_Planned]]
    ) -> Outcome:
        async with self._serialized(key):
            loaded = await self._load(key)
            expected = loaded.revision
            for attempt in range(1, self.max_attempts + 1):
                planned = await step(loaded)
                outcome = planned.outcome
                if planned.document is None:
                    self._remember(key, loaded)
                    return outcome
                document = planned.document
                result = await self.store.commit(
                    key,
                    document,
                    expected=loaded.revision,
                    ttl=self.ttl,
                    forget=sorted(loaded.marks()),  # their entries left the outbox above
                    digest=loaded.digest,  # a cached copy never overwrites a changed document
                )
                if result.ok:
                    outcome.revision = result.revision
                    outcome.record = planned.record
                    if self.observer is not None and planned.record is not None:
                        self.observer.committed(planned.record)
                    committed = Loaded(document, result.revision, raw=result.raw)
                    outcome.delivered = await self._send_committed(key, committed)
                    return outcome
                assert result.current is not None
                logger.debug("conflict on %s (attempt %d)", key, attempt)
                expected = loaded.revision
                if attempt == 1:
                    loaded = result.current  # the conflict answer is the current document
                    continue
                # Contended: back off, then recompute from a snapshot taken after the wait.
                await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))  # noqa: S311
                loaded = await self.store.load(key)
            raise ConflictError(str(key), expected, loaded.revision, self.max_attempts)

    async def _send_committed(self, key: ConversationKey, committed: Loaded) -> bool | None:
        """Deliver this commit's replies (and any left over); cache what the store now has."""
        if self._delivery is None:
            self._remember(key, committed)
            return None
        due = self._delivery.due(key, committed, own=committed.revision)
        delivered = await self._delivery.deliver(key, due)
        if delivered:
            marks = frozenset(p.revision for p in due)
            self._remember(
                key, Loaded(committed.document, committed.revision, marks, raw=committed.raw)
            )
        else:
            self._evict(key)  # the marks are partial: the next message reads the store
        return delivered

    async def _retried(self, key: ConversationKey, message_id: str) -> bool:
        """A message seen before: send its replies if they are still pending.

        Its original handling committed but may have crashed before sending. A sender that
        is alive needs a moment: wait ``duplicate_grace`` from the commit, then send what is
        still pending.
        """
        assert self._delivery is not None
        delivery = self._delivery
        for _ in range(2):
            async with self._serialized(key):
                loaded = await self.store.load(key)
                mine = delivery.of_message(loaded, message_id)
                if not mine:
                    return True
                wait = max(p.entry.queued_at for p in mine) + delivery.duplicate_grace
                wait -= time.time()
                if wait <= 0:
                    self._evict(key)
                    last = max(p.revision for p in mine)
                    due = [p for p in pending(loaded) if p.revision <= last]  # older first
                    return await delivery.deliver(key, due)
            await asyncio.sleep(min(wait, delivery.duplicate_grace))
        return False

    def _working_copy(self, key: ConversationKey, loaded: Loaded) -> ConversationDocument:
        """The document a step changes: the loaded one itself (it was decoded for us).

        A step that rolls back gets a fresh copy through :meth:`_pristine`.
        """
        if loaded.document is None:
            return ConversationDocument(channel=Channel(key.channel, key.identifier))
        document = loaded.document
        if loaded.marks():
            # The commit forgets the marks, so the outbox keeps exactly what is still to send
            # (a partly delivered commit keeps only its entries that did not go out).
            document.outbox = [p.entry for p in pending(loaded)]
            for revision, reason in sorted(loaded.failures.items()):
                record(document, "delivery", "-", False, f"revision {revision}: {reason}")
        return document

    def _pristine(self, key: ConversationKey, loaded: Loaded) -> ConversationDocument:
        """An untouched working copy, decoded again from the stored bytes."""
        if loaded.document is None:
            return self._working_copy(key, Loaded(None))
        if loaded.raw is None:  # never start over a stored conversation by accident
            raise TypeError(f"{type(self.store).__name__}.load() returned no raw bytes")
        copy = Loaded(
            self.store.codec.decode(str(key), loaded.raw),
            loaded.revision,
            loaded.delivered,
            loaded.progress,
            loaded.failures,
        )
        return self._working_copy(key, copy)

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
            record_: StepRecord | None = step.record
            outcome = Outcome(
                replies=list(replies),
                flow=step.flow,
                configuration=step.configuration,
                finished=step.finished,
            )
        except RollbackError as rollback:
            # Keep the conversation where it was; remember the message and the error.
            record_ = None
            document = self._pristine(key, loaded)
            handler = self.error_handler
            if rollback.decision is not None:
                handler.record(rollback.error, component=rollback.component, document=document)
                decision = rollback.decision
            else:
                decision = handler.handle(
                    rollback.error,
                    component=rollback.component,
                    document=document,
                    handles_error=False,
                )
            replies = [OutboundMessage(decision.apology or handler.apology)]
            outcome = Outcome(
                replies=list(replies),
                flow=document.current.path,
                configuration=list(document.chart.configuration),
            )
        now = utc_now()
        if inbound is not None:
            document.inbox.append(inbound.message_id)
            if len(document.inbox) > INBOX_SIZE:
                del document.inbox[:-INBOX_SIZE]
            document.metadata.last_inbound_at = now
        if self.messenger is not None:
            revision = loaded.revision + 1
            queued = time.time()
            message_id = inbound.message_id if inbound is not None else None
            document.outbox.extend(
                OutboxEntry(
                    revision,
                    m.text,
                    list(m.buttons),
                    queued,
                    m.tag,
                    list(m.descriptions),
                    m.menu_label,
                    m.offset,
                    message_id,
                )
                for m in replies
            )
        document.metadata.updated_at = now
        return _Planned(document, outcome, record_)


def _check_api(flows: Sequence[type[Flow]], api: httpx.AsyncClient | None) -> None:
    if api is not None:
        return
    calls = [
        f"{flow_cls.__name__}.{state.id}"
        for flow_cls in flows
        for state in all_states(flow_cls)
        if isinstance(state, ApiCall)
    ]
    if calls:
        raise FlowDefinitionError(
            "Headquarters",
            [
                f"ApiCall states {', '.join(calls)} need an API client: pass "
                "Headquarters(api=httpx.AsyncClient(base_url=...))"
            ],
        )

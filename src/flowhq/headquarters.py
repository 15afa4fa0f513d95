"""``Headquarters``: the public front of the message cycle (docs/architecture.md).

Each call reads top to bottom as intake -> conversations -> delivery: the key and the
input are checked before any I/O, the conversation is loaded, stepped and committed under its
lock, and the committed replies are sent. The rooms doing that work live in
:mod:`flowhq.runtime`; time (timers, scheduled starts) is described in docs/time.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import FlowDefinitionError, InputError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.observability import logs, tracing
from flowhq.observability.events import Event, Handled, Observer, Redelivered, emit
from flowhq.observability.messenger import ObservedMessenger
from flowhq.persistence.store import Store
from flowhq.runtime import intake
from flowhq.runtime.api import ApiClient, check_api_client
from flowhq.runtime.conversations import Conversations, Transaction
from flowhq.runtime.delivery import Delivery, Undeliverable
from flowhq.runtime.intake import Intake
from flowhq.runtime.records import Outcome, StepObserver
from flowhq.runtime.settings import (
    ApiOptions,
    Clock,
    DeliveryOptions,
    Limits,
    TimerOptions,
    system_clock,
    upgrade,
)
from flowhq.runtime.step import Stepper
from flowhq.runtime.timekeeper import Timekeeper, due_time, event_timer, start_timer
from flowhq.runtime.turn import Start, Turns
from flowhq.state.document import Timer
from flowhq.statecharts.flow import Flow

__all__ = ["Headquarters"]

logger = logging.getLogger("flowhq.headquarters")


class Headquarters:
    """Runs flows for inbound messages and commits every step to the store.

    Args:
        flows: The flow classes this bot runs; the first is the entry flow unless ``entry``.
        store: Where conversations live (``MemoryStore()``, ``RedisStore.from_url(...)``).
        messenger: Delivers replies after each commit. Without one, replies are only returned
            in the ``Outcome`` and nothing is kept in the outbox.
        entry: Name of the flow a new conversation starts.
        api: The httpx client used by ``ApiCall`` and ``make_api_request``, or
            ``ApiOptions`` (the client with its timeout, retries and backoff). Required
            when a flow has an ``ApiCall``.
        ttl: Seconds a conversation is kept after its last message (``None``: forever).
        error_handler: Decides on errors raised inside components.
        limits: Bounds on transitions per message, inbound text, commit attempts.
        delivery: When replies a crash left behind are sent again.
        channels: Accepted channel types (default: any well-formed name).
        cache: Keep each conversation's last committed document in this process, so its
            next message needs no load: one round trip per message when this process
            handled the previous one. A stale copy only costs the commit's conflict
            answer, which carries the current document.
        clock: What tells the time (timers, timestamps): a zero-argument callable returning
            an aware UTC ``datetime``; tests pass a ``flowhq.testing.ManualClock``.
        timers: How due timers are fired (``TimerOptions``).
        on_undeliverable: Called with replies that cannot be sent at all (outside the
            channel's service window): ``(key, messages, reason)``, sync or async.
        observer: Instrumentation hook (``flowhq.testing`` uses it to force results and to
            record the transitions tests exercise); leave it out in production.
        observers: Told what happens (steps, conflicts, sends, redeliveries, timers): a
            ``flowhq.observability.PrometheusMetrics``, or any ``Observer``. Kept in the
            ``observers`` list, which may grow later; none costs nothing.
        deprecated: The flat keywords of 0.1 (``max_steps``, ``max_text``, ``max_attempts``,
            ``redelivery_after``, ``duplicate_grace``, ``api_timeout``, ``api_retries``,
            ``api_backoff``) still work for this release, with a ``DeprecationWarning``.

    Raises:
        ValueError: no flows, two flows with one name, an unknown entry flow.
        TypeError: an unknown keyword.
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
        api: httpx.AsyncClient | ApiOptions | None = None,
        ttl: int | None = None,
        error_handler: ErrorHandler | None = None,
        limits: Limits | None = None,
        delivery: DeliveryOptions | None = None,
        channels: Sequence[str] | None = None,
        cache: bool = True,
        clock: Clock = system_clock,
        timers: TimerOptions | None = None,
        on_undeliverable: Undeliverable | None = None,
        observer: StepObserver | None = None,
        observers: Sequence[Observer] = (),
        **deprecated: Any,
    ) -> None:
        api_options = api if isinstance(api, ApiOptions) else ApiOptions(api)
        limits, delivery, api_options = upgrade(
            deprecated, limits or Limits(), delivery or DeliveryOptions(), api_options
        )
        self.flows = _by_name(flows)
        entry = entry or flows[0].name
        if entry not in self.flows:
            raise ValueError(f"entry flow {entry!r} is not among {sorted(self.flows)}")
        check_api_client(flows, api_options.client)
        check = getattr(messenger, "check_flows", None)
        if check is not None and (problems := check(list(flows))):
            raise FlowDefinitionError(type(messenger).__name__, problems)
        self.store, self.messenger, self.ttl, self.limits = store, messenger, ttl, limits
        self.clock = clock
        self.observers: list[Observer] = list(observers)
        self.error_handler = error_handler or ErrorHandler()
        self._api = ApiClient(api_options)
        self._intake = Intake(channels=channels, max_text=limits.max_text)
        self._stepper = Stepper(
            self.flows,
            entry=entry,
            api=self._api,
            error_handler=self.error_handler,
            max_steps=limits.max_steps,
            observer=observer,
            clock=clock,
        )
        turns = Turns(
            self._stepper,
            codec=store.codec,
            error_handler=self.error_handler,
            keeps_outbox=messenger is not None,
        )
        self._conversations = Conversations(
            store, turns, ttl=ttl, limits=limits, cache=cache, observers=self.observers
        )
        sender = None if messenger is None else ObservedMessenger(messenger, self.observers)
        self._delivery = Delivery(
            sender, self._conversations, delivery, clock=clock, on_undeliverable=on_undeliverable
        )
        self._timekeeper = Timekeeper(
            self._conversations, self._delivery, clock=clock, options=timers or TimerOptions()
        )

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

    def notify(self, event: Event) -> None:
        """Hand ``event`` to the observers (a handoff desk reports ``Paused`` this way)."""
        if self.observers:
            emit(self.observers, event)

    async def handle(self, inbound: InboundMessage) -> Outcome:
        """Process one inbound message: load, step, commit, then send the replies.

        A ``flowhq.step`` span when OpenTelemetry is installed; a ``Handled`` event for
        the observers; log records meanwhile carry the conversation (hashed), flow and state.

        Raises:
            InputError: malformed message (before any I/O).
            SnapshotError: the stored document of this conversation is unreadable.
            ConflictError: the commit kept losing to concurrent writers.
            StoreUnavailableError: the store is down.
        """
        key = ConversationKey(str(inbound.channel), str(inbound.identifier))
        with logs.conversation(key) as context, tracing.span("flowhq.step") as span:
            try:
                outcome = await self._handle(inbound)
            except Exception as exc:
                result = "rejected" if isinstance(exc, InputError) else "error"
                self.notify(Handled(context.flow, result))
                tracing.set_attributes(span, {"result": result})
                raise
            result = _result(outcome)
            self.notify(Handled(outcome.flow or context.flow, result))
            if span is not None:  # tracing
                pseudonym, revision = context.conversation, outcome.revision
                attributes: dict[str, str | int] = {"result": result, "revision": revision}
                attributes["conversation"] = pseudonym
                tracing.set_attributes(span, attributes)
            return outcome

    async def _handle(self, inbound: InboundMessage) -> Outcome:
        key = self._intake.admit(inbound)
        if self._intake.too_old(inbound, self.clock().timestamp(), self.limits.dedup_window):
            logger.warning("%s: message %s refused: older than the deduplication window", key,
                           inbound.message_id)  # fmt: skip
            return Outcome(rejected=True)
        refusal = self._intake.refusal(inbound)
        if refusal is not None:
            reply = OutboundMessage(refusal)
            delivered = await self._delivery.refuse(key, reply)
            return Outcome(replies=[reply], rejected=True, delivered=delivered)

        async with self._conversations.lock(key):
            done = await self._conversations.answer(key, inbound)
            outcome = done.outcome
            if done.committed is not None:
                outcome.delivered = await self._delivery.after_commit(key, done.committed)
        if outcome.duplicate:
            outcome.delivered = await self._delivery.retried(key, done.loaded, inbound.message_id)
        return outcome

    async def start(
        self,
        channel: str,
        identifier: str,
        flow: str | None = None,
        *,
        data: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        interrupt: bool = False,
        replace: bool = False,
        timer_id: str | None = None,
    ) -> Outcome:
        """Begin ``flow`` (default: the entry flow) without an inbound message.

        For business-initiated conversations: a reminder, a notice, a survey.

        Args:
            channel: The channel type.
            identifier: The user's identifier on it.
            flow: The flow to begin (default: the entry flow).
            data: Values the flow starts with (``{name}`` in its texts).
            at: Begin then instead of now (an aware ``datetime``); the outcome's ``timer``
                is the scheduled start's id (``cancel_timer`` takes it).
            interrupt: Over a conversation in a flow, run ``flow`` on top of it: when
                ``flow`` ends, the conversation returns to the question it was at, its
                values intact, the question asked again.
            replace: Over a conversation in a flow, leave that flow.
            timer_id: With ``at``, your id for the scheduled start: scheduling it again
                replaces it (a backend retrying a request books one start).

        Raises:
            InputError: an unknown flow, bad data, a naive ``at``.
            ConversationInProgressError: the conversation is in a flow and neither
                ``interrupt`` nor ``replace`` is set (for ``at``: checked when it fires,
                logged and dropped then).
        """
        key = self._intake.key(channel, identifier)
        name = flow or self.entry
        if name not in self.flows:
            raise InputError(f"unknown flow {name!r}; known: {sorted(self.flows)}")
        start = Start(name, intake.values(data), interrupt=interrupt, replace=replace)
        if at is not None:
            timer = start_timer(start, due_time(self.clock(), at=at, after=None), timer_id)
            return await self._commit(key, self._conversations.schedule(key, timer))
        return await self._commit(key, self._conversations.begin(key, start))

    async def schedule(
        self,
        channel: str,
        identifier: str,
        event: str,
        *,
        at: datetime | None = None,
        after: timedelta | float | None = None,
        timer_id: str | None = None,
    ) -> str:
        """Fire ``event`` into the conversation later, as a command would.

        Where the conversation then stands the event must be enabled; if it is not, the
        timer is stale: logged at INFO, nothing sent. Scheduling a ``timer_id`` again
        replaces the earlier timer.

        Args:
            channel: The channel type.
            identifier: The user's identifier on it.
            event: The event to fire.
            at: When (an aware ``datetime``); or
            after: how long from now (a ``timedelta`` or seconds).
            timer_id: Your id for the timer (default: a new random one).

        Returns:
            The timer's id.

        Raises:
            InputError: a malformed event or id, neither or both of ``at``/``after``.
        """
        key = self._intake.key(channel, identifier)
        timer = event_timer(event, due_time(self.clock(), at=at, after=after), timer_id)
        await self._commit(key, self._conversations.schedule(key, timer))
        return timer.id

    async def cancel_timer(self, channel: str, identifier: str, timer_id: str) -> bool:
        """Cancel a timer set by ``schedule`` or ``start(at=...)``; whether there was one."""
        key = self._intake.key(channel, identifier)
        outcome = await self._commit(key, self._conversations.cancel(key, timer_id))
        return outcome.timer is not None

    async def timers(self, channel: str, identifier: str) -> list[Timer]:
        """The conversation's pending timers, soonest first (copies; nothing is changed)."""
        loaded = await self.store.load(self._intake.key(channel, identifier))
        document = loaded.document
        return sorted(document.timers, key=lambda timer: timer.due) if document else []

    async def fire(self, channel: str, identifier: str) -> Outcome:
        """Fire this conversation's due timers now and return what that did.

        For tests and consoles that want the outcome (``fire_due`` only counts); the timer
        index catches up on its next pass.
        """
        key = self._intake.key(channel, identifier)
        return await self._commit(key, self._conversations.fire(key))

    async def fire_due(self) -> int:
        """Fire the timers due now (one pass); return how many fired.

        Any number of processes may call it at once: each timer fires once. For tests and
        cron-style callers; ``run_timers`` loops over it.
        """
        return await self._timekeeper.fire_due()

    async def run_timers(self, stop: asyncio.Event | None = None) -> None:
        """Fire due timers until ``stop`` is set (or the task is cancelled).

        Run it in every process of the bot (the WhatsApp webhook app does); they share the
        work (``TimerOptions`` sets the lease, batch and pause between passes).
        """
        await self._timekeeper.run(stop or asyncio.Event())

    async def _commit(self, key: ConversationKey, transaction: Awaitable[Transaction]) -> Outcome:
        """Run a transaction of ``key`` under its lock and send what it committed."""
        with logs.conversation(key):
            return await self._commit_logged(key, transaction)

    async def _commit_logged(
        self, key: ConversationKey, transaction: Awaitable[Transaction]
    ) -> Outcome:
        async with self._conversations.lock(key):
            done = await transaction
            if done.committed is not None:
                done.outcome.delivered = await self._delivery.after_commit(key, done.committed)
        return done.outcome

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
        key = self._intake.key(channel, identifier)
        changes = intake.protected_changes(dashboard, action, auth_token)
        outcome = await self._commit(key, self._conversations.initialize(key, changes))
        return outcome.revision

    async def redeliver(self, *, older_than: float | None = None) -> int:
        """Send committed but undelivered replies, in every conversation.

        Call it at start-up after a crash (``older_than=0``) or periodically (the WhatsApp
        webhook app does). Replies younger than ``older_than`` seconds (default:
        ``DeliveryOptions.redelivery_after``) are skipped: another process is probably
        sending them. A conversation that cannot be read is logged and skipped. Returns the
        number of replies sent.
        """
        sent = await self._delivery.redeliver(older_than=older_than)
        self.notify(Redelivered(sent, self._delivery.owed))
        return sent

    async def pending(self, channel: str, identifier: str) -> list[OutboundMessage]:
        """The question the conversation waits on, rendered again; nothing is committed.

        For a terminal or a console resuming a stored conversation (show the user where
        they are). Empty when nothing waits.
        """
        loaded = await self.store.load(self._intake.key(channel, identifier))
        if loaded.document is None:
            return []
        return self._stepper.pending(loaded.document, revision=loaded.revision)

    async def last_inbound(self, channel: str, identifier: str) -> str | None:
        """When the user last wrote (ISO-8601 UTC), or ``None``.

        WhatsApp lets a business answer freely for 24 hours after that (the customer
        service window); later, only approved templates.
        """
        loaded = await self.store.load(self._intake.key(channel, identifier))
        return loaded.document.metadata.last_inbound_at if loaded.document else None

    async def aclose(self) -> None:
        """Close what the Headquarters was given: the store, the messenger, the API client."""
        close = getattr(self.messenger, "aclose", None)
        if close is not None:
            await close()
        await self._api.aclose()
        await self.store.close()


def _result(outcome: Outcome) -> str:
    """What handling a message came to, in one word (the ``outcome`` label)."""
    if outcome.rejected:
        return "rejected"
    return "duplicate" if outcome.duplicate else "processed"


def _by_name(flows: Sequence[type[Flow]]) -> dict[str, type[Flow]]:
    if not flows:
        raise ValueError("Headquarters needs at least one flow")
    named: dict[str, type[Flow]] = {}
    for flow_cls in flows:
        if flow_cls.name in named:
            raise ValueError(f"two flows are named {flow_cls.name!r}")
        named[flow_cls.name] = flow_cls
    return named

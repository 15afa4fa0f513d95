"""``Headquarters``: the public front of the message cycle (docs/architecture.md).

Each call reads top to bottom as intake -> conversations -> delivery: the key and the
input are checked before any I/O, the conversation is loaded, stepped and committed under its
lock, and the committed replies are sent. The rooms doing that work live in
:mod:`flowhq.runtime`; time (timers, scheduled starts) is described in docs/time.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

import httpx

from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import InputError
from flowhq.i18n import Languages, Translations
from flowhq.i18n.localization import LocaleOf, checked_language
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.observability import logs, tracing
from flowhq.observability.events import Event, Handled, Observer, Redelivered, emit
from flowhq.persistence.store import Store
from flowhq.runtime import intake
from flowhq.runtime.assembly import build, by_name
from flowhq.runtime.delivery import Undeliverable
from flowhq.runtime.desk import OnHandoff
from flowhq.runtime.front import result_of
from flowhq.runtime.handoff_calls import HandoffCalls
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
from flowhq.runtime.time_calls import TimeCalls
from flowhq.runtime.timekeeper import due_time, start_timer
from flowhq.runtime.turn import Start
from flowhq.statecharts.flow import Flow

__all__ = ["Headquarters"]

logger = logging.getLogger("flowhq.headquarters")


class Headquarters(HandoffCalls, TimeCalls):
    """Runs flows for inbound messages and commits every step to the store.

    The calls about time (``schedule``, ``cancel_timer``, ``timers``, ``fire``,
    ``fire_due``, ``run_timers``) come from :class:`~flowhq.runtime.time_calls.TimeCalls`,
    those for people taking over (``pause``, ``resume``, ``reply_as_agent``,
    ``transcript``, ``paused_conversations``) from
    :class:`~flowhq.runtime.handoff_calls.HandoffCalls`.

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
        transcript: How many of the newest messages (both ways) each conversation keeps
            for the people who take over (0: none, except while paused); docs/handoff.md.
        on_handoff: Called after each message to a paused conversation is committed:
            ``(key, message, transcript)``, sync or async (notify your help desk).
        translations: The flows' texts in other languages
            (``flowhq.i18n.Translations.load("locales/")``; docs/i18n.md).
        locale_of: ``key -> locale or None``: a conversation's language when it has saved
            none (``initialize(locale=...)`` or a ``locale`` value saves one).
        timezone: The conversations' time zone (an IANA name such as ``"Europe/Madrid"``;
            default UTC); a saved ``timezone`` value overrides it per conversation.
        observers: Told what happens (steps, conflicts, sends, redeliveries, timers): a
            ``flowhq.observability.PrometheusMetrics``, or any ``Observer``. Kept in the
            ``observers`` list, which may grow later; none costs nothing.
        deprecated: The flat keywords of 0.1 (``max_steps``, ``max_text``, ``max_attempts``,
            ``redelivery_after``, ``duplicate_grace``, ``api_timeout``, ``api_retries``,
            ``api_backoff``) still work for this release, with a ``DeprecationWarning``.

    Raises:
        ValueError: no flows, two flows with one name, an unknown entry flow, an unknown
            time zone.
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
        transcript: int = 50,
        on_handoff: OnHandoff | None = None,
        translations: Translations | None = None,
        locale_of: LocaleOf | None = None,
        timezone: str | tzinfo | None = None,
        observers: Sequence[Observer] = (),
        **deprecated: Any,
    ) -> None:
        api_options = api if isinstance(api, ApiOptions) else ApiOptions(api)
        limits, delivery, api_options = upgrade(
            deprecated, limits or Limits(), delivery or DeliveryOptions(), api_options
        )
        self.flows, entry = by_name(flows, entry)
        self.store, self.messenger, self.ttl, self.limits = store, messenger, ttl, limits
        self.clock = clock
        self.observers: list[Observer] = list(observers)
        self.error_handler = error_handler or ErrorHandler()
        rooms = build(
            self.flows,
            entry=entry,
            store=store,
            messenger=messenger,
            api=api_options,
            limits=limits,
            delivery=delivery,
            error_handler=self.error_handler,
            observers=self.observers,
            ttl=ttl,
            channels=channels,
            cache=cache,
            clock=clock,
            timers=timers,
            on_undeliverable=on_undeliverable,
            observer=observer,
            transcript=transcript,
            on_handoff=on_handoff,
            languages=Languages(translations=translations, locale_of=locale_of, timezone=timezone),
        )
        self._api, self._intake, self._stepper = rooms.api, rooms.intake, rooms.stepper
        self._conversations, self._delivery = rooms.conversations, rooms.delivery
        self._desk, self._timekeeper = rooms.desk, rooms.timekeeper

    def __repr__(self) -> str:
        return f"Headquarters(flows={sorted(self.flows)}, store={self.store!r})"

    @property
    def observer(self) -> StepObserver | None:
        """The instrumentation hook (see ``observer`` in the class docs)."""
        return self._stepper.observer

    @observer.setter
    def observer(self, observer: StepObserver | None) -> None:
        self._stepper.observer = observer

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
            result = result_of(outcome)
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
        refusal = self._intake.refusal(inbound, self._stepper.translator(key))
        if refusal is not None:
            reply = OutboundMessage(refusal)
            delivered = await self._delivery.refuse(key, reply)
            return Outcome(replies=[reply], rejected=True, delivered=delivered)

        async with self._conversations.lock(key):
            done = await self._conversations.answer(key, inbound)
            outcome = done.outcome
            if done.committed is not None:
                outcome.delivered = await self._delivery.after_commit(key, done.committed)
        if outcome.paused and done.committed is not None:
            assert done.committed.document is not None
            await self._desk.notify(key, inbound, done.committed.document)
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

    async def initialize(
        self,
        channel: str,
        identifier: str,
        *,
        dashboard: Mapping[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        auth_token: str | None = None,
        locale: str | None = None,
        timezone: str | None = None,
    ) -> int:
        """Set a conversation's protected state (API-sourced data, auth token).

        The token is stripped of surrounding whitespace; one with control characters is
        refused (it could not be sent in a header, and the error would show it).
        ``locale`` (``"es"``, ``"pt_BR"``) and ``timezone`` (an IANA name) are saved as the
        conversation's ``locale`` and ``timezone`` values (docs/i18n.md).

        Returns:
            The document's new revision.

        Raises:
            InputError: a token that cannot be used, or data JSON cannot hold.
        """
        key = self._intake.key(channel, identifier)
        changes = intake.protected_changes(dashboard, action, auth_token)
        changes.update(checked_language(locale, timezone))
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

    async def aclose(self) -> None:
        """Close what the Headquarters was given: the store, the messenger, the API client."""
        close = getattr(self.messenger, "aclose", None)
        if close is not None:
            await close()
        await self._api.aclose()
        await self.store.close()

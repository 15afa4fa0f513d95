"""One step of a conversation: restore the chart, deliver the input, run until it waits.

This is the flow-control half of the message cycle (docs/architecture.md). It works on a
private copy of the document and never touches the store or the messenger: the caller
commits the result and sends the replies. The chart is the compiled form of the flow
(:mod:`flowhq.statecharts.compiled`) run by :mod:`flowhq.statecharts.chart`, restored from
the saved configuration without running any entry.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast

from attrs import define

from flowhq.components.base import ComponentBase
from flowhq.components.error_handler import ErrorDecision, ErrorHandler
from flowhq.errors import FlowError, InputError, StepLimitError
from flowhq.i18n import Languages, Localization
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import MORE_PREFIX, InboundMessage, OutboundMessage
from flowhq.runtime import handoff, timers
from flowhq.runtime.records import ForcedResult, StepObserver, StepRecord, Taken
from flowhq.state.document import ChartState, ConversationDocument, Current, Frame, Timer
from flowhq.state.manager import ApiRequester, Messaging, StateManager
from flowhq.state.upgrade import split_legacy_values
from flowhq.statecharts.chart import Chart, Macrostep
from flowhq.statecharts.checks import handles
from flowhq.statecharts.compiled import CompiledFlow, NoTransitionError, compiled
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.restore import fingerprint, legal_chart, migrated

__all__ = ["StepResult", "Stepper"]

logger = logging.getLogger("flowhq.headquarters")


class RollbackError(Exception):  # an internal signal: it never leaves the message cycle
    """The step cannot complete; the caller discards it and sends an apology.

    ``decision`` is the ErrorHandler's, when it already logged the error and decided (its
    record went with the discarded step: the caller records it again on the kept copy).
    """

    def __init__(
        self, component: str, error: Exception, *, decision: ErrorDecision | None = None
    ) -> None:
        self.component = component
        self.error = error
        self.decision = decision
        super().__init__(f"step rolled back in {component!r}: {error!r}")


@define
class StepResult:
    """What a step produced: the replies and a record (the document is changed in place)."""

    replies: list[OutboundMessage]
    record: StepRecord
    timers: tuple[str, ...] = ()
    """The ids of the timers the step fired."""

    @property
    def flow(self) -> str:
        """The flow the step ran."""
        return self.record.flow

    @property
    def configuration(self) -> list[str]:
        """The configuration after the step."""
        return list(self.record.configuration)

    @property
    def finished(self) -> bool:
        """Whether the flow reached a final state."""
        return self.record.finished


class Stepper:
    """Drives charts for Headquarters. Stateless between calls; safe to share."""

    def __init__(
        self,
        flows: Mapping[str, type[Flow]],
        *,
        entry: str,
        api: ApiRequester | None,
        error_handler: ErrorHandler,
        max_steps: int,
        observer: StepObserver | None = None,
        clock: Callable[[], datetime] | None = None,
        languages: Languages | None = None,
    ) -> None:
        self.languages = languages or Languages()
        self.observer = observer
        self.clock = clock or _utc_now
        self.flows = flows
        self.entry = entry
        self.api = api
        self.error_handler = error_handler
        self.max_steps = max_steps

    def translator(self, key: ConversationKey) -> Callable[[str], str]:
        """``gettext`` in the language of a conversation whose document is not loaded.

        The language is looked up only when a text is translated: refusals before any I/O
        are rare, the messages that pass them need none.
        """

        def gettext(text: str) -> str:
            default = self.flows[self.entry].locale
            speech = self.languages.localization(key, {}, default=default, clock=self.clock)
            return speech.gettext(text)

        return gettext

    def speech(self, document: ConversationDocument) -> Localization:
        """The language and time zone of ``document``'s conversation (docs/i18n.md)."""
        channel = document.channel
        flow_cls = self.flows.get(document.current.path or "") or self.flows[self.entry]
        return self.languages.localization(
            ConversationKey(channel.type, channel.identifier),
            document.current.values,
            default=flow_cls.locale,
            clock=self.clock,
        )

    async def run(
        self,
        document: ConversationDocument,
        *,
        revision: int,
        inbound: InboundMessage | None,
        begin: str | None = None,
        values: Mapping[str, Any] | None = None,
        interrupt: bool = False,
    ) -> StepResult:
        """Advance ``document`` (in place) by one inbound message, or begin flow ``begin``.

        ``values`` are saved for the flow ``begin`` starts; with ``interrupt`` the flow the
        conversation is in waits on the stack and resumes when ``begin`` ends.

        Raises:
            RollbackError: when the step must be thrown away (an unhandled component error,
                a guard that raised, a result with no transition, a loop).
        """
        run = _Run(self, document, revision)
        run.message = inbound.answer if inbound is not None else None
        if begin is not None:
            run.begin(self.flows[begin], values=values, interrupt=interrupt)
        else:
            deliver = run.resume()
            if deliver and inbound is not None:
                await run.deliver(inbound)
        await run.drain()
        return run.finish()

    async def fire(self, document: ConversationDocument, *, revision: int) -> StepResult | None:
        """Fire the timers of ``document`` due now (in place); ``None`` when none is due.

        A timer whose visit ended, whose event is not enabled where the conversation
        stands, or whose flow is gone is stale: it is dropped and logged, nothing is sent.

        Raises:
            RollbackError: as for :meth:`run`.
        """
        run = _Run(self, document, revision)
        due = timers.take_due(document, run.now)
        if not due:
            return None
        run.message = ", ".join(f"timer:{timer.id}" for timer in due)
        run.restore()
        for timer in due:
            run.apply(timer)
            await run.drain()
        result = run.finish()
        result.timers = tuple(timer.id for timer in due)
        return result

    async def unpause(
        self, document: ConversationDocument, *, revision: int, result: str
    ) -> StepResult:
        """Give a paused conversation back to the bot (in place).

        At a ``Handoff`` state the flow goes on with ``result``; anywhere else the waiting
        question is asked again (``result`` must then be the default, ``resumed``), its
        timeout set anew and the reminders it had not sent set again.

        Raises:
            InputError: ``result`` is not one the waiting ``Handoff`` declares, or one is
                given where no ``Handoff`` waits.
            RollbackError: as for :meth:`run`.
        """
        run = _Run(self, document, revision)
        run.message = f"resume:{result}"
        run.restore()
        waiting = run._waiting() if run.chart is not None and not run._finished() else []
        if waiting and waiting[0].pauses:
            handoff_state = waiting[0]
            if result not in handoff_state.results or result == "timeout":
                raise InputError(
                    f"{handoff_state.id!r} resumes with one of {list(handoff_state.results)}, "
                    f"not {result!r}"
                )
            handoff.unpause(document)
            run.fire(result, handoff_state.id)
            await run.drain()
        else:
            if result != "resumed":
                raise InputError(f"no Handoff waits here to take the result {result!r}")
            paused = handoff.unpause(document)
            if waiting:
                run.ask_again(paused.held if paused is not None else [])
        return run.finish()

    def pending(self, document: ConversationDocument, *, revision: int) -> list[OutboundMessage]:
        """The question the conversation waits on, rendered again (nothing is changed).

        Empty when nothing waits (no flow, a finished one, or one the flow cannot resume
        as it is). ``document`` is used as a scratch copy.
        """
        run = _Run(self, document, revision)
        if document.current.path is None or not run.resume():
            return []
        waiting = run._waiting()
        if not waiting:
            return []
        component = waiting[0]
        component.reprompt(run._manager(component, resumed=True))
        return run.messaging.messages


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _base36(number: int) -> str:
    """``number`` in base 36 (a question tag).

    Raises:
        ValueError: ``number`` is negative (``divmod`` would never reach 0: the loop spun
            forever on a corrupt stored revision before stores checked revisions).
    """
    if number < 0:
        raise ValueError(f"a question tag needs a non-negative number, not {number}")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


class _Run:
    """State of one step: the chart, the queue of entered components, the replies."""

    def __init__(self, stepper: Stepper, document: ConversationDocument, revision: int) -> None:
        self.stepper = stepper
        self.document = document
        self.revision = revision
        self.messaging = Messaging()
        self.work: list[tuple[ComponentBase, bool]] = []
        self.steps = 0
        self.fired: list[tuple[str | None, str]] = []
        self.taken: list[Taken] = []
        self.chart: Chart | None = None
        self.message: str | None = None
        self.now = stepper.clock().timestamp()

    @property
    def flow(self) -> CompiledFlow | None:
        """The compiled flow this step runs (``None`` until a chart is set)."""
        return self.chart.flow if self.chart is not None else None

    @property
    def flow_cls(self) -> type[Flow]:
        """The flow this step runs."""
        assert self.chart is not None
        return cast("type[Flow]", self.chart.flow.flow_cls)

    # -- chart -----------------------------------------------------------------------------

    def begin(
        self,
        flow_cls: type[Flow],
        *,
        values: Mapping[str, Any] | None = None,
        interrupt: bool = False,
    ) -> None:
        """Start ``flow_cls`` at its initial state (its entries run in ``drain``).

        With ``interrupt``, the flow in progress waits on the stack, its values and
        position kept apart, and resumes when ``flow_cls`` ends.
        """
        document = self.document
        current = document.current
        if interrupt and current.path is not None:
            waiting = [copy.deepcopy(t) for t in document.timers if t.kind in timers.VISIT_KINDS]
            frame = Frame(copy.deepcopy(current), copy.deepcopy(document.chart), waiting)
            document.stack.append(frame)
            current = copy.deepcopy(current)
        self.document.current = Current(values=current.values, labels=current.labels)
        self.document.current.values.update(values or {})
        self.document.current.path = flow_cls.name
        self.document.chart = ChartState(flow=flow_cls.name, fingerprint=fingerprint(flow_cls))
        self.chart = Chart(compiled(flow_cls))
        kwargs = self._guard_kwargs(None)
        self._queue_entered(self._run_chart(lambda chart: chart.start(kwargs), "-"))

    def resume(self) -> bool:
        """Restore the active flow; return whether the inbound message should be delivered.

        The message is not delivered when the conversation (re)starts a flow (it is the
        trigger, not an answer) or resumes a state that was waiting for nothing.
        """
        document = self.document
        if document.metadata.upgraded_from is not None:
            split_legacy_values(document, self.stepper.flows.get(document.current.path or ""))
        name = document.current.path
        entry = self.stepper.flows[self.stepper.entry]
        if name is None:
            self.begin(entry)
            return False
        flow_cls = self.stepper.flows.get(name)
        if flow_cls is None:
            self._restart(entry, f"flow {name!r} is not registered any more")
            return False
        chart = self._restore(flow_cls)
        if chart is None:
            return False
        self.chart = chart
        if self._finished():
            # A finished flow that kept its name (a document written by hand or by an
            # older release): the message starts the entry flow, as after any finish.
            self.begin(entry)
            return False
        if self._waiting():
            return True
        # A deploy turned the waiting state into one that waits for nothing (a Prompt into
        # a Message), or a crash left it there: run it, so the conversation moves on.
        logger.warning(
            "conversation %s: flow %s rests at %s, which waits for no input; running it",
            self._who(),
            name,
            chart.configuration_ids(),
        )
        for node in chart.configuration:
            if node.is_atomic and isinstance(node.state, ComponentBase):
                self.work.append((node.state, False))
        return False

    def _restore(self, flow_cls: type[Flow]) -> Chart | None:
        """The saved chart, checked against the flow when its shape changed; else restart."""
        saved = self.document.chart
        flow = compiled(flow_cls)
        current = fingerprint(flow_cls)
        chart = legal_chart(flow, saved.configuration, saved.history)
        if chart is not None and saved.fingerprint == current and saved.flow == flow_cls.name:
            return chart
        if chart is None:
            moved = migrated(flow, saved.configuration, flow_cls.migrations)
            chart = legal_chart(flow, moved, saved.history)
            if chart is None:
                self._restart(
                    flow_cls,
                    f"its saved position {saved.configuration} does not exist in flow "
                    f"{flow_cls.name} any more and no migration maps it",
                )
                return None
            logger.warning(
                "conversation %s: migrated %s -> %s (flow %s changed)",
                self._who(),
                saved.configuration,
                chart.configuration_ids(),
                flow_cls.name,
            )
        saved.fingerprint = current
        return chart

    def _restart(self, flow_cls: type[Flow], why: str) -> None:
        logger.warning("conversation %s: %s; restarting flow %s", self._who(), why, flow_cls.name)
        self.messaging.send(self.stepper.speech(self.document).gettext(flow_cls.restart_text))
        self.begin(flow_cls)

    def _who(self) -> str:
        channel = self.document.channel
        return f"{channel.type}:{channel.identifier}"

    def _waiting(self) -> list[ComponentBase]:
        """Active components waiting for input, in document order."""
        assert self.chart is not None
        nodes = sorted(self.chart.configuration, key=lambda node: node.order)
        return [
            node.state
            for node in nodes
            if isinstance(node.state, ComponentBase) and node.state.accepts_input
        ]

    def _finished(self) -> bool:
        assert self.chart is not None
        return not self.chart.running

    def _active(self, state_id: str) -> bool:
        assert self.chart is not None
        return self.chart.is_active(state_id)

    def _queue_entered(self, step: Macrostep) -> None:
        queued = {id(component) for component, _ in self.work}
        for node, resumed in step.entered:
            state = node.state
            if isinstance(state, ComponentBase) and id(state) not in queued:
                queued.add(id(state))
                self.work.append((state, resumed))
        for trans, event in step.taken:
            target = trans.target.id if trans.target is not None else None
            taken = (trans.source.id, target, trans.declared_event(event))
            if taken not in self.taken:  # a parallel state's regions report it once each
                self.taken.append(taken)

    def _manager(self, component: ComponentBase, *, resumed: bool = False) -> StateManager:
        return StateManager(
            self.document,
            component=component.id,
            role=component.role,
            messaging=self.messaging,
            saves=component.saves,
            api=self.stepper.api,
            revision=self.revision,
            resumed=resumed,
            speech=self.stepper.speech(self.document),
        )

    def _guard_kwargs(self, result: str | None) -> dict[str, Any]:
        document = self.document
        current = document.current
        return {
            "component_result": result,
            "data": MappingProxyType(current.values),
            "labels": MappingProxyType(current.labels),
            "dashboard": MappingProxyType(document.dashboard),
            "action": MappingProxyType(document.action),
        }

    # -- events ----------------------------------------------------------------------------

    def _run_chart(self, action: Callable[[Chart], Macrostep], origin: str) -> Macrostep:
        assert self.chart is not None
        try:
            return action(self.chart)
        except NoTransitionError as exc:
            error = FlowError(f"no transition for {exc.event!r} from {sorted(exc.configuration)}")
            raise RollbackError(origin, error) from None
        except Exception as exc:  # a user's guard raised
            raise RollbackError(origin, exc) from exc

    def fire(self, event: str, origin: str | None) -> None:
        """Dispatch ``event`` to the chart and queue the components it entered."""
        assert self.flow is not None
        self.steps += 1
        if self.steps > self.stepper.max_steps:
            error = StepLimitError(self.flow_cls.name, self.stepper.max_steps)
            raise RollbackError(origin or "-", error)
        self.document.current.component_result = event
        self.fired.append((origin, event))
        kwargs = self._guard_kwargs(event)
        self._queue_entered(self._run_chart(lambda chart: chart.send(event, kwargs), origin or "-"))

    def _command(self, inbound: InboundMessage) -> str | None:
        assert self.chart is not None
        assert self.flow is not None
        answer = inbound.answer
        if not answer:
            return None
        event = self.flow_cls.commands.get(answer.strip().casefold())
        if event is None:
            return None
        return event if event in self.chart.enabled_events(self._guard_kwargs(None)) else None

    async def deliver(self, inbound: InboundMessage) -> None:
        """Fire a command, or hand the message to the waiting component."""
        command = self._command(inbound)
        if command is not None:
            self.fire(command, None)
            return
        waiting = self._waiting()
        if not waiting:
            logger.warning("conversation %s: no component waits for input", self._who())
            return
        component = waiting[0]
        if inbound.tag is not None and inbound.tag != self.document.current.tags.get(component.id):
            # A button of an earlier question: say so and ask the current one again.
            assert self.flow is not None
            notice = self.stepper.speech(self.document).gettext(self.flow_cls.stale_button_text)
            # Quoting the tap shows the user which of their messages this answers.
            self.messaging.messages.append(OutboundMessage(notice, quote=inbound.message_id))
            await self._reprompt(component)
            return
        if inbound.payload is not None and inbound.payload.startswith(MORE_PREFIX):
            offset = inbound.payload[len(MORE_PREFIX) :]
            await self._reprompt(component, int(offset) if offset.isdecimal() else 0)
            return
        result = await self._call(component, inbound)
        if result is not None:
            self.fire(result, component.id)

    async def _reprompt(self, component: ComponentBase, offset: int = 0) -> None:
        manager = self._manager(component, resumed=True)
        try:
            component.reprompt(manager, offset=offset)
        except Exception as exc:  # the ErrorHandler is the one place that decides
            decision = self.stepper.error_handler.handle(
                exc, component=component.id, document=self.document, handles_error=False
            )
            raise RollbackError(component.id, exc, decision=decision) from exc

    async def _call(
        self, component: ComponentBase, inbound: InboundMessage | None, *, resumed: bool = False
    ) -> str | None:
        observer = self.stepper.observer
        manager = self._manager(component, resumed=resumed)
        if inbound is None and observer is not None and self.flow is not None:
            forced = observer.forced_result(self.flow_cls.name, component.id, self._who())
            if forced is not None:
                if isinstance(forced, str):
                    forced = ForcedResult(forced)
                if forced.result not in component.results:
                    error = FlowError(
                        f"forced result {forced.result!r} is not one of {component.results}"
                    )
                    raise RollbackError(component.id, error)
                try:
                    for name, value in forced.values.items():
                        manager.save_value(name, value)
                except Exception as exc:  # an undeclared name or a value JSON cannot hold
                    raise RollbackError(component.id, exc) from exc
                return forced.result
        try:
            if inbound is None:
                return await component.begin(manager)
            return await component.handle(manager, inbound)
        except Exception as exc:  # the ErrorHandler is the one place that decides
            can_route = handles(component, "error") and "error" in component.results
            decision = self.stepper.error_handler.handle(
                exc, component=component.id, document=self.document, handles_error=can_route
            )
            if decision.result is None:
                raise RollbackError(component.id, exc, decision=decision) from exc
            return decision.result

    def _enter(self, component: ComponentBase, resumed: bool) -> None:
        """Bookkeeping of a component's entry: a fresh visit of a question gets a new tag.

        A fresh visit also arms its timers; a return through history keeps both.
        """
        if component.pauses:
            at = datetime.fromtimestamp(self.now, UTC).isoformat(timespec="microseconds")
            handoff.pause(self.document, at=at, reason="handoff", state=component.id)
        if component.accepts_input:
            tags = self.document.current.tags
            if not resumed or component.id not in tags:
                tags[component.id] = _base36(self.revision + 1)
                timers.arm(self.document, component, tags[component.id], self.now)

    async def drain(self) -> None:
        """Run entered components until every active one waits or the flow is final.

        Components entered by one event all run before any of their results is fired: in a
        parallel state, a result that moves several regions must not skip a sibling's entry.
        """
        while self.work:
            batch = self.work
            self.work = []
            finished: list[tuple[str, str]] = []
            for component, resumed in batch:
                if not self._active(component.id):
                    continue  # left again before its turn
                self._enter(component, resumed)
                result = await self._call(component, None, resumed=resumed)
                if result is not None and not component.final:  # a final state has no way out
                    finished.append((component.id, result))
            for state_id, result in finished:
                if self._active(state_id):  # an earlier result may have moved it already
                    self.fire(result, state_id)

    def finish(self) -> StepResult:
        """Write the chart's position into the document and describe the step."""
        if self.chart is None:  # timers fired into a conversation with no flow to run
            return StepResult(self.messaging.messages, self._record("", [], finished=False))
        if self._finished() and self.document.stack:
            self._return_from_interrupt()
            return self.finish()
        paused = self.document.paused
        if paused is not None and paused.state is not None and not self._active(paused.state):
            handoff.unpause(self.document)  # its Handoff was left (a timeout, a migration)
        assert self.flow is not None
        flow_cls = self.flow_cls
        configuration = self.chart.configuration_ids()
        chart = self.document.chart
        chart.flow, chart.configuration = flow_cls.name, configuration
        chart.history = self.chart.history_ids()
        finished = self._finished()
        current = self.document.current
        if finished:
            self.document.current = Current(
                component_result=current.component_result,
                values=current.values,
                labels=current.labels,
            )
        else:
            waiting = self._waiting()
            current.path = flow_cls.name
            current.component = waiting[0].id if waiting else None
            current.awaiting_input = bool(waiting)
        remembered = {state_id for ids in chart.history.values() for state_id in ids}
        timers.prune(self.document, {*configuration, *remembered})
        record = self._record(flow_cls.name, configuration, finished=finished)
        return StepResult(self.messaging.messages, record)

    def _record(self, flow: str, configuration: list[str], *, finished: bool) -> StepRecord:
        return StepRecord(
            flow=flow,
            fired=tuple(self.fired),
            transitions=tuple(self.taken),
            configuration=tuple(configuration),
            finished=finished,
            conversation=self._who(),
            message=self.message,
            replies=tuple(m.text for m in self.messaging.messages),
        )

    # -- interruptions and timers --------------------------------------------------------

    def _return_from_interrupt(self) -> None:
        """The interrupting flow ended: back to the interrupted one, its question asked again.

        Its values and position come back as they were; the question gets its timeout again
        (a new wait from now) and the reminders it had not sent, keeping its tag so its
        earlier buttons still count.
        """
        frame = self.document.stack.pop()
        self.document.current, self.document.chart = frame.current, frame.chart
        flow_cls = self.stepper.flows.get(frame.current.path or "")
        self.chart = self._restore(flow_cls) if flow_cls is not None else None
        if self.chart is None:
            entry = self.stepper.flows[self.stepper.entry]
            self._restart(entry, "the interrupted flow is gone")
            return
        self.ask_again(frame.timers)

    def ask_again(self, held: list[Timer]) -> None:
        """Ask the waiting question again after a break (an interruption, a pause).

        Its timeout starts again from now and the reminders still ``held`` are set again;
        its tag stays, so its earlier buttons still count.
        """
        for component in self._waiting():
            tag = self.document.current.tags.get(component.id)
            if tag is not None:
                mine = [t for t in held if t.state == component.id]
                unsent = {t.number for t in mine if t.kind == "reminder"}
                timers.arm(self.document, component, tag, self.now, reminders=unsent)
        waiting = self._waiting()
        if waiting:
            waiting[0].reprompt(self._manager(waiting[0], resumed=True))

    def restore(self) -> None:
        """Restore the active flow for timers, if it can be; never start or restart one."""
        name = self.document.current.path
        flow_cls = self.stepper.flows.get(name) if name is not None else None
        if flow_cls is None:
            return
        saved = self.document.chart
        flow = compiled(flow_cls)
        chart = legal_chart(flow, saved.configuration, saved.history)
        if chart is None:  # the flow changed shape: its migrations may still place it
            moved = migrated(flow, saved.configuration, flow_cls.migrations)
            chart = legal_chart(flow, moved, saved.history)
        if chart is not None and saved.flow == flow_cls.name:
            self.chart = chart

    def apply(self, timer: Timer) -> None:
        """Fire one due timer into the chart, or log it as stale."""
        if timer.kind == "start":
            self._start(timer)
            return
        why = self._stale(timer)
        if why is not None:
            logger.info("conversation %s: timer %s is stale: %s", self._who(), timer.id, why)
            return
        assert self.flow is not None
        if timer.kind == "event":
            assert timer.event is not None
            self.fire(timer.event, None)
            return
        component = self.flow.nodes[timer.state or ""].state
        assert isinstance(component, ComponentBase)
        if timer.kind == "reminder":
            reminders = [spec for spec in component.timers if spec.kind == "reminder"]
            text = reminders[timer.number - 1].text
            self.messaging.send(component.render(self._manager(component, resumed=True), text))
            return
        spec = next(spec for spec in component.timers if spec.kind == timer.kind)
        assert spec.result is not None
        self.fire(spec.result, component.id)

    def _stale(self, timer: Timer) -> str | None:
        """Why ``timer`` cannot fire where the conversation stands (``None``: it can)."""
        if self.chart is None or self._finished():
            return "no flow is in progress"
        if timer.kind == "event":
            enabled = self.chart.enabled_events(self._guard_kwargs(None))
            return None if timer.event in enabled else f"{timer.event!r} is not enabled here"
        state = timer.state or ""
        if not self._active(state) or self.document.current.tags.get(state) != timer.seq:
            return f"the visit of {state!r} it belonged to ended"
        component = self.flow.nodes[state].state if self.flow is not None else None
        specs = getattr(component, "timers", ())
        if timer.kind == "reminder" and timer.number > sum(s.kind == "reminder" for s in specs):
            return f"{state!r} has no reminder {timer.number} any more"
        if timer.kind != "reminder" and not any(s.kind == timer.kind for s in specs):
            return f"{state!r} has no {timer.kind} any more"
        return None

    def _start(self, timer: Timer) -> None:
        """A start scheduled with ``start(at=...)``: begin its flow if it still can."""
        name = str(timer.data.get("flow", ""))
        flow_cls = self.stepper.flows.get(name)
        busy = self.chart is not None and not self._finished()
        interrupt, replace = bool(timer.data.get("interrupt")), bool(timer.data.get("replace"))
        if flow_cls is None or (busy and not interrupt and not replace):
            why = (
                f"flow {name!r} is not registered" if flow_cls is None else "a flow is in progress"
            )
            logger.warning(
                "conversation %s: scheduled start %s dropped: %s", self._who(), timer.id, why
            )
            return
        values = timer.data.get("values") or {}
        self.begin(flow_cls, values=values, interrupt=interrupt and busy)

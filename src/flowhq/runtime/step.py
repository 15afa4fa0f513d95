"""One step of a conversation: restore the chart, deliver the input, run until it waits.

This is the flow-control half of ``Headquarters`` (DESIGN §4, steps 4-6). It works on a
private copy of the document and never touches the store or the messenger: the caller
commits the result and sends the replies. The chart is the compiled form of the flow
(:mod:`flowhq.statecharts.compiled`) run by :mod:`flowhq.statecharts.chart`, restored from
the saved configuration without running any entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, cast

from attrs import define, frozen

from flowhq.components.base import ComponentBase
from flowhq.components.error_handler import ErrorDecision, ErrorHandler
from flowhq.errors import FlowError, StepLimitError
from flowhq.messaging.types import MORE_PREFIX, InboundMessage, OutboundMessage
from flowhq.state.document import ChartState, ConversationDocument, Current
from flowhq.state.manager import ApiSettings, Messaging, StateManager
from flowhq.state.upgrade import split_legacy_values
from flowhq.statecharts.chart import Chart, Macrostep
from flowhq.statecharts.checks import handles
from flowhq.statecharts.compiled import CompiledFlow, NoTransitionError, compiled
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.restore import fingerprint, legal_chart, migrated

__all__ = [
    "ForcedResult",
    "RollbackError",
    "StepObserver",
    "StepRecord",
    "StepResult",
    "Stepper",
]

logger = logging.getLogger("flowhq.headquarters")


class RollbackError(FlowError):
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


Taken = tuple[str, str | None, str]
"""A transition taken: (source state id, target state id, event)."""


@frozen
class StepRecord:
    """What one committed step did, for observers (coverage, path replay, the dev console).

    Attributes:
        flow: The flow the step ran.
        fired: ``(origin state or None for a command, event)`` in the order dispatched.
        transitions: The declared transitions taken.
        configuration: The configuration after the step.
        finished: Whether the flow reached a final state.
        conversation: ``channel:identifier`` of the conversation.
        message: The text or payload of the message that triggered the step, if any.
        replies: The texts of the step's replies.
    """

    flow: str
    fired: tuple[tuple[str | None, str], ...]
    transitions: tuple[Taken, ...]
    configuration: tuple[str, ...]
    finished: bool
    conversation: str = ""
    message: str | None = None
    replies: tuple[str, ...] = ()


@frozen
class ForcedResult:
    """A result forced on a component instead of running it, with the values it saves.

    An ApiCall's handler or an Action saves values later states show; forcing the result
    skips them, so the test says what they would have been.
    """

    result: str
    values: Mapping[str, Any] = {}


class StepObserver(Protocol):
    """Instrumentation seam (used by ``flowhq.testing``); production code passes none.

    ``forced_result`` may answer a result for a component that finishes by itself (ApiCall,
    Action, Message) instead of running it; ``committed`` sees every committed step.
    """

    def forced_result(self, flow: str, state: str, conversation: str) -> str | ForcedResult | None:
        """Return the result ``state`` should finish with, or ``None`` to run it.

        ``conversation`` is ``channel:identifier``.
        """
        ...

    def committed(self, record: StepRecord) -> None:
        """Called after a step was committed."""
        ...


@define
class StepResult:
    """What a step produced: the replies and a record (the document is changed in place)."""

    replies: list[OutboundMessage]
    record: StepRecord

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
        api: ApiSettings,
        error_handler: ErrorHandler,
        max_steps: int,
        observer: StepObserver | None = None,
    ) -> None:
        self.observer = observer
        self.flows = flows
        self.entry = entry
        self.api = api
        self.error_handler = error_handler
        self.max_steps = max_steps

    async def run(
        self,
        document: ConversationDocument,
        *,
        revision: int,
        inbound: InboundMessage | None,
        begin: str | None = None,
    ) -> StepResult:
        """Advance ``document`` (in place) by one inbound message, or begin flow ``begin``.

        Raises:
            RollbackError: when the step must be thrown away (an unhandled component error,
                a guard that raised, a result with no transition, a loop).
        """
        run = _Run(self, document, revision)
        run.message = inbound.answer if inbound is not None else None
        if begin is not None:
            run.begin(self.flows[begin])
        else:
            deliver = run.resume()
            if deliver and inbound is not None:
                await run.deliver(inbound)
        await run.drain()
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


def _base36(number: int) -> str:
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

    def begin(self, flow_cls: type[Flow]) -> None:
        """Start ``flow_cls`` at its initial state (its entries run in ``drain``)."""
        current = self.document.current
        self.document.current = Current(values=current.values, labels=current.labels)
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
        if self._waiting() or self._finished():
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
        self.messaging.send(flow_cls.restart_text)
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
            self.messaging.send(self.flow_cls.stale_button_text)
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
        """Bookkeeping of a component's entry: a fresh visit of a question gets a new tag."""
        if component.accepts_input:
            tags = self.document.current.tags
            if not resumed or component.id not in tags:
                tags[component.id] = _base36(self.revision + 1)

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
        assert self.chart is not None
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
        record = StepRecord(
            flow=flow_cls.name,
            fired=tuple(self.fired),
            transitions=tuple(self.taken),
            configuration=tuple(configuration),
            finished=finished,
            conversation=self._who(),
            message=self.message,
            replies=tuple(m.text for m in self.messaging.messages),
        )
        return StepResult(self.messaging.messages, record)

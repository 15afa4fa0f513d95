"""One step of a conversation: restore the chart, deliver the input, run until it waits.

This is the flow-control half of ``Headquarters`` (DESIGN §4, steps 4-6). It works on a
private copy of the document and never touches the store or the messenger: the caller
commits the result and sends the replies.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

import httpx
from attrs import define, frozen
from statemachine.exceptions import TransitionNotAllowed

from flowhq.components.base import ComponentBase
from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import FlowError, StepLimitError
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.state.document import ChartState, ConversationDocument, Current
from flowhq.state.manager import Messaging, StateManager
from flowhq.statecharts.checks import handles
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.model import all_states
from flowhq.statecharts.snapshot import (
    UnknownConfigurationError,
    active_components,
    fingerprint,
    migrate_configuration,
    restore,
    snapshot,
    start,
)

__all__ = ["RollbackError", "StepObserver", "StepRecord", "StepResult", "Stepper"]

logger = logging.getLogger("flowhq.headquarters")


class RollbackError(FlowError):
    """The step cannot complete; the caller discards it and sends an apology."""

    def __init__(self, component: str, error: Exception) -> None:
        self.component = component
        self.error = error
        super().__init__(f"step rolled back in {component!r}: {error!r}")


Taken = tuple[str, str | None, str]
"""A transition taken: (source state id, target state id, event)."""


@frozen
class StepRecord:
    """What one committed step did, for observers (coverage, path replay).

    Attributes:
        flow: The flow the step ran.
        fired: ``(origin state or None for a command, event)`` in the order dispatched.
        transitions: The declared transitions taken.
        configuration: The configuration after the step.
        finished: Whether the flow reached a final state.
    """

    flow: str
    fired: tuple[tuple[str | None, str], ...]
    transitions: tuple[Taken, ...]
    configuration: tuple[str, ...]
    finished: bool


class StepObserver(Protocol):
    """Instrumentation seam (used by ``flowhq.testing``); production code passes none.

    ``forced_result`` may answer a result for a component that finishes by itself (ApiCall,
    Action, Message) instead of running it; ``committed`` sees every committed step.
    """

    def forced_result(self, flow: str, state: str) -> str | None:
        """Return the result ``state`` should finish with, or ``None`` to run it."""
        ...

    def committed(self, record: StepRecord) -> None:
        """Called after a step was committed."""
        ...


class _Recorder:
    """Listener noting states entered (their components run after the send) and transitions."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.taken: list[Taken] = []

    def on_enter_state(self, state: Any) -> None:
        self.entered.append(state.id)

    def on_transition(self, event: Any, transition: Any) -> None:
        if transition.initial or not transition.events or str(event) == "__initial__":
            return  # the chart's or a compound's default entry, not a declared transition
        target = transition.target.id if transition.target is not None else None
        taken = (transition.source.id, target, str(event))
        if taken not in self.taken:  # entering a parallel state reports once per region
            self.taken.append(taken)


@define
class StepResult:
    """What a step produced: the new document (mutated in place), the replies, a record."""

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
        api: httpx.AsyncClient | None,
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
        if begin is not None:
            run.begin(self.flows[begin])
        else:
            restart = run.resume()
            if restart is not None:
                run.begin(restart)  # the message that starts a flow is its trigger, not an answer
            elif inbound is not None:
                await run.deliver(inbound)
        await run.drain()
        return run.finish()


class _Run:
    """State of one step: the chart, the queue of entered components, the replies."""

    def __init__(self, stepper: Stepper, document: ConversationDocument, revision: int) -> None:
        self.stepper = stepper
        self.document = document
        self.revision = revision
        self.messaging = Messaging()
        self.recorder = _Recorder()
        self.work: deque[str] = deque()
        self.steps = 0
        self.fired: list[tuple[str | None, str]] = []
        self.chart: Flow | None = None

    # -- chart -----------------------------------------------------------------------------

    def begin(self, flow_cls: type[Flow]) -> None:
        self.document.current = Current(path=flow_cls.name)
        self.document.chart = ChartState(flow=flow_cls.name, fingerprint=fingerprint(flow_cls))
        self.chart = start(flow_cls, listeners=[self.recorder])
        self._queue_entered()

    def resume(self) -> type[Flow] | None:
        """Restore the active flow; return the flow to (re)start when it cannot be restored."""
        entry = self.stepper.flows[self.stepper.entry]
        name = self.document.current.path
        if name is None:
            return entry
        flow_cls = self.stepper.flows.get(name)
        if flow_cls is None:
            logger.warning(
                "conversation %s: flow %r is not registered; starting %s",
                self._who(),
                name,
                entry.name,
            )
            return entry
        saved = self.document.chart
        try:
            self.chart = restore(
                flow_cls, saved.configuration, saved.history, listeners=[self.recorder]
            )
        except UnknownConfigurationError as exc:
            return None if self._migrate(flow_cls, exc) else flow_cls
        return None

    def _migrate(self, flow_cls: type[Flow], exc: UnknownConfigurationError) -> bool:
        saved = self.document.chart
        try:
            configuration = migrate_configuration(flow_cls, saved.configuration)
        except UnknownConfigurationError:
            logger.warning(
                "conversation %s: flow %s no longer has states %s and no migration maps them; "
                "restarting the flow",
                self._who(),
                flow_cls.name,
                exc.unknown,
            )
            return False
        history_ids = {state.id for state in all_states(flow_cls) if state.is_history}
        history = {
            key: values
            for key, values in saved.history.items()
            if key in history_ids and all(value in flow_cls.states_map for value in values)
        }
        logger.info(
            "conversation %s: migrated %s -> %s", self._who(), saved.configuration, configuration
        )
        self.chart = restore(flow_cls, configuration, history, listeners=[self.recorder])
        self.document.chart.fingerprint = fingerprint(flow_cls)
        return True

    def _who(self) -> str:
        channel = self.document.channel
        return f"{channel.type}:{channel.identifier}"

    def _active(self) -> set[str]:
        assert self.chart is not None
        return {state.id for state in self.chart.configuration}

    def _queue_entered(self) -> None:
        assert self.chart is not None
        states = type(self.chart).states_map
        for state_id in self.recorder.entered:
            if isinstance(states.get(state_id), ComponentBase):
                self.work.append(state_id)
        self.recorder.entered.clear()

    def _component(self, state_id: str) -> ComponentBase:
        assert self.chart is not None
        state = type(self.chart).states_map[state_id]
        assert isinstance(state, ComponentBase)
        return state

    def _manager(self, component: ComponentBase) -> StateManager:
        return StateManager(
            self.document,
            component=component.id,
            role=component.role,
            messaging=self.messaging,
            save_as=component.save_as,
            api=self.stepper.api,
            revision=self.revision,
        )

    def _guard_kwargs(self, result: str | None) -> dict[str, Any]:
        document = self.document
        return {
            "component_result": result,
            "data": MappingProxyType(dict(document.current.data)),
            "dashboard": MappingProxyType(dict(document.dashboard)),
            "action": MappingProxyType(dict(document.action)),
        }

    # -- events ----------------------------------------------------------------------------

    def fire(self, event: str, origin: str | None) -> None:
        """Dispatch ``event`` to the chart and queue the components it entered."""
        assert self.chart is not None
        self.steps += 1
        if self.steps > self.stepper.max_steps:
            raise RollbackError(
                origin or "-", StepLimitError(type(self.chart).name, self.stepper.max_steps)
            )
        self.document.current.component_result = event
        self.fired.append((origin, event))
        try:
            self.chart.send(event, **self._guard_kwargs(event))
        except TransitionNotAllowed:
            error = FlowError(f"no transition for {event!r} from {sorted(self._active())}")
            raise RollbackError(origin or "-", error) from None
        except Exception as exc:  # a user's guard or callback raised
            raise RollbackError(origin or "-", exc) from exc
        self._queue_entered()

    def _command(self, inbound: InboundMessage) -> str | None:
        assert self.chart is not None
        answer = inbound.answer
        if not answer:
            return None
        event = type(self.chart).commands.get(answer.strip().casefold())
        if event is None:
            return None
        enabled = {str(e.id) for e in self.chart.enabled_events(**self._guard_kwargs(None))}
        return event if event in enabled else None

    async def deliver(self, inbound: InboundMessage) -> None:
        """Fire a command, or hand the message to the waiting component."""
        command = self._command(inbound)
        if command is not None:
            self.fire(command, None)
            return
        waiting = (
            [c for c in active_components(self.chart) if c.accepts_input] if self.chart else []
        )
        if not waiting:
            logger.debug("conversation %s: no component waits for input", self._who())
            return
        component = waiting[0]
        assert isinstance(component, ComponentBase)
        result = await self._call(component, inbound)
        if result is not None:
            self.fire(result, component.id)

    async def _call(self, component: ComponentBase, inbound: InboundMessage | None) -> str | None:
        manager = self._manager(component)
        observer = self.stepper.observer
        if inbound is None and observer is not None and self.chart is not None:
            forced = observer.forced_result(type(self.chart).name, component.id)
            if forced is not None:
                if forced not in component.results:
                    error = FlowError(f"forced result {forced!r} is not one of {component.results}")
                    raise RollbackError(component.id, error)
                return forced
        try:
            if inbound is None:
                return await component.begin(manager)
            return await component.handle(manager, inbound)
        except Exception as exc:  # the ErrorHandler is the one place that decides
            decision = self.stepper.error_handler.handle(
                exc,
                component=component.id,
                document=self.document,
                handles_error=handles(component, "error"),
            )
            if decision.result is None:
                raise RollbackError(component.id, exc) from exc
            return decision.result

    async def drain(self) -> None:
        """Run entered components until every active one waits or the flow is final.

        Components entered by one event all run before any of their results is fired: in a
        parallel state, a result that moves several regions must not skip a sibling's entry.
        """
        while self.work:
            batch = list(self.work)
            self.work.clear()
            finished: list[tuple[str, str]] = []
            for state_id in batch:
                if state_id not in self._active():
                    continue  # left again before its turn
                component = self._component(state_id)
                result = await self._call(component, None)
                if result is not None and not component.final:  # a final state has no way out
                    finished.append((state_id, result))
            for state_id, result in finished:
                if state_id in self._active():  # an earlier result may have moved it already
                    self.fire(result, state_id)

    def finish(self) -> StepResult:
        """Write the chart's position into the document and describe the step."""
        assert self.chart is not None
        flow_cls = type(self.chart)
        configuration, history = snapshot(self.chart)
        chart = self.document.chart
        chart.flow, chart.configuration, chart.history = flow_cls.name, configuration, history
        finished = any(s.final and s.parent is None for s in self.chart.configuration)
        current = self.document.current
        waiting = [c for c in active_components(self.chart) if c.accepts_input]
        if finished:
            self.document.current = Current(component_result=current.component_result)
        else:
            current.path = flow_cls.name
            current.component = waiting[0].id if waiting else None
            current.awaiting_input = bool(waiting)
        record = StepRecord(
            flow=flow_cls.name,
            fired=tuple(self.fired),
            transitions=tuple(self.recorder.taken),
            configuration=tuple(configuration),
            finished=finished,
        )
        return StepResult(self.messaging.messages, record)

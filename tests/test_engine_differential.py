"""The compiled engine against python-statemachine, side by side (the oracle).

Every flow is driven twice with the same events and the same guard kwargs: once as a
python-statemachine instance (a listener records the states it enters and the transitions it
takes) and once as a compiled ``Chart``. After each event the two must agree on the
configuration, the history values, the entry order, the transitions taken, the error (none,
no transition, or the guard's own exception) and whether the chart terminated; before each
event, on the enabled events.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pytest
from statemachine import StateChart
from statemachine.exceptions import TransitionNotAllowed

from examples.order_status import OrderStatus
from examples.pizza import PizzaOrder
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq.statecharts.engine import Chart, NoTransitionError, compiled
from flowhq.statecharts.model import all_states, transitions
from flowhq.statecharts.snapshot import restore, snapshot
from tests.flows import Age, Fragile, Menu, Nested

FLOWS: list[type[StateChart[Any]]] = [
    Signup,
    SupportMenu,
    OrderStatus,
    PizzaOrder,
    Age,
    Fragile,
    Nested,
    Menu,
]

UNKNOWN_EVENTS = ("nope", "done.state", "done.state.nowhere", "valid.more.tokens")

Taken = tuple[str, tuple[str, ...], str]


# -- the two sides ---------------------------------------------------------------------------


class Spy:
    """Listener recording what a python-statemachine instance does.

    ``after_transition`` rather than ``on_transition``: python-statemachine also runs the
    ``on`` callbacks of initial transitions and of a history state's default transition (and
    again the transition that targeted it), which are not transitions taken.
    """

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.taken: list[Taken] = []

    def clear(self) -> None:
        self.entered.clear()
        self.taken.clear()

    def on_enter_state(self, state: Any) -> None:
        self.entered.append(state.id)

    def after_transition(self, transition: Any, event: Any) -> None:
        targets = tuple(target.id for target in transition.targets)
        self.taken.append((transition.source.id, targets, str(event) if event else ""))


@dataclass
class Observed:
    """What one side did with one event."""

    configuration: list[str]
    history: dict[str, list[str]]
    entered: list[str]
    taken: list[Taken]
    error: str | None
    terminated: bool
    error_configuration: list[str] = field(default_factory=list)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Pair:
    """One flow as a python-statemachine instance and as a compiled chart, in lock step."""

    flow_cls: type[StateChart[Any]]
    machine: StateChart[Any]
    spy: Spy
    chart: Chart
    trace: list[str] = field(default_factory=list)

    @classmethod
    def started(cls, flow_cls: type[StateChart[Any]], kwargs: Mapping[str, Any]) -> Pair:
        spy = Spy()
        machine = flow_cls(listeners=[spy])
        chart = compiled(flow_cls).chart()
        chart.start(kwargs)
        pair = cls(flow_cls, machine, spy, chart, ["(start)"])
        pair.compare("(start)", pair._observe_machine(None), pair._observe_chart(None))
        return pair

    @classmethod
    def restored(
        cls,
        flow_cls: type[StateChart[Any]],
        configuration: Sequence[str],
        history: Mapping[str, Sequence[str]],
    ) -> Pair:
        spy = Spy()
        machine = restore(flow_cls, configuration, history, listeners=[spy])  # type: ignore[arg-type]
        chart = compiled(flow_cls).chart(configuration, history)
        trace = [f"(restored at {list(configuration)} history {dict(history)})"]
        pair = cls(flow_cls, machine, spy, chart, trace)
        assert chart.configuration_ids() == snapshot(machine)[0], pair.where()
        assert chart.history_ids() == snapshot(machine)[1], pair.where()
        return pair

    def where(self) -> str:
        return f"{self.flow_cls.__name__}: " + " -> ".join(self.trace)

    def _observe_chart(self, exc: Exception | None) -> Observed:
        chart = self.chart
        observed = Observed(
            configuration=chart.configuration_ids(),
            history=chart.history_ids(),
            entered=[node.id for node, _ in chart.entered],
            taken=[
                (trans.source.id, tuple(t.id for t in trans.targets), event)
                for trans, event in chart.taken
            ],
            error=None,
            terminated=not chart.running,
        )
        if isinstance(exc, NoTransitionError):
            observed.error = "no transition"
            observed.error_configuration = sorted(exc.configuration)
        elif exc is not None:
            observed.error = _error(exc)
        chart.entered.clear()
        chart.taken.clear()
        return observed

    def _observe_machine(self, exc: Exception | None) -> Observed:
        configuration, history = snapshot(self.machine)  # type: ignore[arg-type]
        observed = Observed(
            configuration=configuration,
            history=history,
            entered=list(self.spy.entered),
            taken=list(self.spy.taken),
            error=None,
            terminated=self.machine.is_terminated,
        )
        if isinstance(exc, TransitionNotAllowed):
            observed.error = "no transition"
            observed.error_configuration = sorted(s.id for s in exc.configuration)
        elif exc is not None:
            observed.error = _error(exc)
        self.spy.clear()
        return observed

    def compare(self, step: str, expected: Observed, actual: Observed) -> None:
        assert actual == expected, f"{self.where()}\nstep {step}"

    def check_enabled(self, kwargs: Mapping[str, Any]) -> None:
        expected = {str(event) for event in self.machine.enabled_events(**kwargs)}
        actual = self.chart.enabled_events(kwargs)
        assert actual == expected, f"{self.where()}\nenabled events with {dict(kwargs)}"

    def send(self, event: str, kwargs: Mapping[str, Any]) -> Observed:
        self.trace.append(f"{event}{_describe(kwargs)}")
        try:
            self.machine.send(event, **kwargs)
        except Exception as exc:
            expected = self._observe_machine(exc)
        else:
            expected = self._observe_machine(None)
        try:
            self.chart.send(event, kwargs)
        except Exception as exc:
            actual = self._observe_chart(exc)
        else:
            actual = self._observe_chart(None)
        self.compare(event, expected, actual)
        return expected


def _describe(kwargs: Mapping[str, Any]) -> str:
    data = kwargs.get("data")
    return f"[data={dict(data)}]" if data is not None else ""


# -- inputs ----------------------------------------------------------------------------------


def flow_events(flow_cls: type[StateChart[Any]]) -> list[str]:
    """Every event the flow declares, the ``done.state`` event of every compound or parallel
    state, and a few events nothing handles."""
    events: list[str] = []
    for transition in transitions(flow_cls):
        events.extend(str(event) for event in transition.events if str(event) not in events)
    for state in all_states(flow_cls):
        done = f"done.state.{state.id}"
        if state.states and done not in events:
            events.append(done)
    return events + [event for event in UNKNOWN_EVENTS if event not in events]


def guard_kwargs(rng: random.Random, event: str | None) -> dict[str, Any]:
    """Guard kwargs as flowhq passes them, with data that sends guards both ways.

    Now and then a value is missing, so a guard that reads it raises.
    """
    data: dict[str, Any] = {
        "age": rng.choice([4, 17, 18, 65]),
        "n": rng.randint(0, 3),
        "flag": rng.random() < 0.5,
        "ok": rng.random() < 0.5,
    }
    if rng.random() < 0.05:
        del data[rng.choice(sorted(data))]
    return {
        "component_result": event,
        "data": MappingProxyType(data),
        "labels": MappingProxyType({}),
        "dashboard": MappingProxyType({"order": "A100"}),
        "action": MappingProxyType({"route": rng.choice(["guarded", "unguarded"])}),
    }


def fixed_kwargs() -> list[dict[str, Any]]:
    """A few deterministic kwargs, for exploring every reachable configuration."""
    return [guard_kwargs(random.Random(seed), None) for seed in range(6)]


Position = tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]


def _position(machine: StateChart[Any]) -> Position:
    configuration, history = snapshot(machine)  # type: ignore[arg-type]
    return tuple(configuration), tuple(sorted((k, tuple(v)) for k, v in history.items()))


_REACHABLE: dict[type[StateChart[Any]], list[Position]] = {}


def reachable(flow_cls: type[StateChart[Any]], limit: int = 400) -> list[Position]:
    """Positions (configuration, history) python-statemachine reaches, breadth first."""
    if flow_cls in _REACHABLE:
        return _REACHABLE[flow_cls]
    start = _position(flow_cls())
    seen = {start: None}
    queue = deque([start])
    events = flow_events(flow_cls)
    variants = fixed_kwargs()
    while queue and len(seen) < limit:
        configuration, history = queue.popleft()
        for event in events:
            for kwargs in variants:
                machine = restore(flow_cls, configuration, dict(history))  # type: ignore[arg-type]
                if machine.is_terminated:
                    continue
                try:
                    machine.send(event, **kwargs)
                except Exception:  # no transition, or a guard that raised
                    continue
                position = _position(machine)
                if position not in seen:
                    seen[position] = None
                    queue.append(position)
    _REACHABLE[flow_cls] = list(seen)
    return _REACHABLE[flow_cls]


# -- the tests -------------------------------------------------------------------------------


def run_sequence(pair: Pair, rng: random.Random, events: Sequence[str], length: int) -> None:
    for _ in range(length):
        event = rng.choice(events)
        kwargs = guard_kwargs(rng, event)
        pair.check_enabled(kwargs)
        pair.send(event, kwargs)


@pytest.mark.parametrize("flow_cls", FLOWS, ids=lambda f: f.__name__)
def test_random_sequences_from_the_start(flow_cls: type[StateChart[Any]]) -> None:
    events = flow_events(flow_cls)
    for seed in range(300):
        rng = random.Random(seed)
        pair = Pair.started(flow_cls, guard_kwargs(rng, None))
        run_sequence(pair, rng, events, rng.randint(1, 12))


@pytest.mark.parametrize("flow_cls", FLOWS, ids=lambda f: f.__name__)
def test_random_sequences_from_restored_positions(flow_cls: type[StateChart[Any]]) -> None:
    events = flow_events(flow_cls)
    positions = reachable(flow_cls)
    for seed in range(700):
        rng = random.Random(seed)
        configuration, history = rng.choice(positions)
        pair = Pair.restored(flow_cls, configuration, dict(history))
        run_sequence(pair, rng, events, rng.randint(1, 8))


@pytest.mark.parametrize("flow_cls", FLOWS, ids=lambda f: f.__name__)
def test_every_event_at_every_reachable_position(flow_cls: type[StateChart[Any]]) -> None:
    for configuration, history in reachable(flow_cls):
        for event in flow_events(flow_cls):
            for kwargs in fixed_kwargs():
                pair = Pair.restored(flow_cls, configuration, dict(history))
                pair.check_enabled(kwargs)
                pair.send(event, kwargs)


@pytest.mark.parametrize("flow_cls", FLOWS, ids=lambda f: f.__name__)
def test_restored_chart_equals_started_chart(flow_cls: type[StateChart[Any]]) -> None:
    """A chart restored from saved ids behaves like the chart that got there by events."""
    rng = random.Random(7)
    events = flow_events(flow_cls)
    for _ in range(200):
        chart = compiled(flow_cls).chart()
        chart.start(guard_kwargs(rng, None))
        for _ in range(rng.randint(0, 8)):
            saved = (chart.configuration_ids(), chart.history_ids())
            again = compiled(flow_cls).chart(*saved)
            assert (again.configuration_ids(), again.history_ids()) == saved
            assert again.running == chart.running
            kwargs = guard_kwargs(rng, None)
            assert again.enabled_events(kwargs) == chart.enabled_events(kwargs)
            event = rng.choice(events)
            outcomes = []
            for each in (chart, again):
                try:
                    each.send(event, kwargs)
                    outcomes.append(None)
                except Exception as exc:
                    outcomes.append(_error(exc))
            assert outcomes[0] == outcomes[1]
            assert again.configuration_ids() == chart.configuration_ids()
            assert again.history_ids() == chart.history_ids()
            assert again.running == chart.running
            if not chart.running:
                break

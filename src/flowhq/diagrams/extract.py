"""Extraction: a flow class reduced to the diagram model of :mod:`flowhq.diagrams.model`.

python-statemachine's own ``contrib.diagram.extract`` gives the state tree and the state
types (compound, parallel, history, final, initial); we do not fork it. flowhq adds what its
runner knows: each component's kind and text, result events with their guards, the commands
that fire events, the default of each history state, and results no transition handles.

Extraction reads only the class, never a conversation's data, so templates stay as written.
It works on any python-statemachine ``StateChart`` class, not only on a checked ``Flow``:
that is how a flow the checker would refuse can still be drawn, with its problems in red.

Time is drawn where it acts: an edge whose event only a timer produces (the ``timeout`` of a
question with ``timeout=``, the ``done`` of a ``Wait``) carries the delay, and a question's
reminders are noted on its node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from statemachine import StateChart
from statemachine.contrib.diagram.extract import extract as extract_states
from statemachine.contrib.diagram.model import DiagramState, StateType

from flowhq.diagrams.model import Diagram, Edge, Node, Timing
from flowhq.state import ConversationDocument
from flowhq.statecharts import ComponentState
from flowhq.statecharts.checks import handles
from flowhq.statecharts.component_state import format_delay
from flowhq.statecharts.model import all_states, declared_events, transitions

__all__ = ["Active", "active_ids", "extract"]

Active = Iterable[str] | ConversationDocument | None


def _kind(state: Any, diagram_state: DiagramState) -> str:
    if isinstance(state, ComponentState):
        return state.kind
    if diagram_state.type is StateType.HISTORY_DEEP:
        return "history_deep"
    if diagram_state.type is StateType.HISTORY_SHALLOW:
        return "history"
    if state.parallel:
        return "parallel"
    if state.states:
        return "compound"
    return "final" if state.final else "state"


def _notes(state: Any) -> tuple[str, ...]:
    """Lines drawn under a component's label: its reminders' delays."""
    reminders = [t.delay for t in getattr(state, "timers", ()) if t.kind == "reminder"]
    if not reminders:
        return ()
    return ("reminders: " + ", ".join(format_delay(delay) for delay in reminders),)


def _node(states: Mapping[str, Any], diagram_state: DiagramState) -> Node:
    state = states[diagram_state.id]
    return Node(
        id=diagram_state.id,
        kind=_kind(state, diagram_state),
        label=state.describe() if isinstance(state, ComponentState) else diagram_state.id,
        initial=bool(diagram_state.is_initial),
        final=bool(state.final),
        children=tuple(_node(states, child) for child in diagram_state.children),
        notes=_notes(state),
    )


def _guards(transition: Any) -> tuple[str, ...]:
    # `cond` holds `unless` guards too, as specs whose expected value is False (and whose
    # str() is `!name`); both are shown by the name they were declared with, never a repr.
    guards = []
    for spec in transition.cond:
        name = str(getattr(spec, "attr_name", None) or spec).lstrip("!")
        guards.append(name if getattr(spec, "expected_value", True) else f"not {name}")
    return tuple(guards)


def _events(transition: Any) -> tuple[str, ...]:
    return declared_events(transition.events)


def _takes(owner: Any, event: str) -> bool:
    """Whether ``owner`` surely takes ``event`` itself (an unguarded transition on it)."""
    return any(
        not transition.initial and event in _events(transition) and not list(transition.cond)
        for transition in owner.transitions
    )


def _producers(chart_cls: type[StateChart[Any]], source: Any, event: str) -> list[Any]:
    """The components whose result ``event`` leaves through ``source``'s transition.

    ``source`` itself, or a component inside it that no closer state takes ``event`` from.
    """
    producers = []
    for state in all_states(chart_cls):
        if not isinstance(state, ComponentState) or event not in state.results:
            continue
        chain = [state, *state.ancestors()]
        if source not in chain:
            continue
        if not any(_takes(owner, event) for owner in chain[: chain.index(source)]):
            producers.append(state)
    return producers


def _timings(
    chart_cls: type[StateChart[Any]], source: Any, events: tuple[str, ...]
) -> tuple[Timing, ...]:
    """The events of a transition from ``source`` that only timers produce, with delays."""
    timings = []
    for event in events:
        producers = _producers(chart_cls, source, event)
        specs = [
            [spec for spec in producer.timers if spec.result == event] for producer in producers
        ]
        if not producers or not all(specs):
            continue  # no timer, or some component also finishes with it by itself
        delays = tuple(dict.fromkeys(spec.delay for found in specs for spec in found))
        wait = all(spec.kind == "wait" for found in specs for spec in found)
        timings.append(Timing(event, delays, wait=wait))
    return tuple(timings)


def _edges(chart_cls: type[StateChart[Any]]) -> list[Edge]:
    keywords: dict[str, list[str]] = {}
    for keyword, event in getattr(chart_cls, "commands", {}).items():
        keywords.setdefault(event, []).append(keyword)
    edges = []
    for transition in transitions(chart_cls):
        events = _events(transition)
        edges.append(
            Edge(
                source=transition.source.id,
                target=transition.target.id if transition.target is not None else None,
                events=events,
                guards=_guards(transition),
                commands=tuple(k for event in events for k in keywords.get(event, [])),
                timings=_timings(chart_cls, transition.source, events),
                by_person=_resumed(transition.source, events),
            )
        )
    for state in all_states(chart_cls):
        if isinstance(state, ComponentState) and not state.final:
            edges.extend(
                Edge(
                    source=state.id,
                    target=None,
                    events=(outcome[0],),
                    kind="unhandled",
                    timings=_timings(chart_cls, state, (outcome[0],)),
                )
                for outcome in state.outcomes
                if not any(handles(state, result) for result in outcome)
            )
    return edges


def _resumed(source: object, events: tuple[str, ...]) -> bool:
    """Whether a person fires one of ``events`` by resuming a ``Handoff`` at ``source``."""
    if not isinstance(source, ComponentState) or not source.pauses:
        return False
    return any(event in source.results and event != "timeout" for event in events)


def active_ids(active: Active) -> frozenset[str]:
    """Normalise ``active`` to a set of state ids.

    Args:
        active: A configuration (state ids), a stored conversation's document (its
            ``chart.configuration`` is used), or None.

    Returns:
        The state ids to highlight.

    Raises:
        TypeError: for a bare string or a mapping, which would otherwise be read
            character by character or key by key.
    """
    if active is None:
        return frozenset()
    if isinstance(active, ConversationDocument):
        return frozenset(active.chart.configuration)
    if isinstance(active, str | bytes | Mapping):
        raise TypeError("active takes a list of state ids or a ConversationDocument")
    return frozenset(active)


def extract(
    chart_cls: type[StateChart[Any]],
    *,
    active: Active = None,
    taken: Iterable[tuple[str, str | None, str]] = (),
) -> Diagram:
    """Reduce a flow (or any python-statemachine ``StateChart`` class) to a :class:`Diagram`.

    Args:
        chart_cls: The class to draw. A ``Flow`` contributes its ``name`` and ``commands``;
            other charts are named after the class and have no commands.
        active: State ids to highlight, or a stored ``ConversationDocument``.
        taken: Transitions ``(source, target, event)`` to mark as just taken (a step's
            ``StepRecord.transitions``).

    Returns:
        The diagram model, in document order, with no object ids in it.
    """
    states = {state.id: state for state in all_states(chart_cls)}  # history states included
    graph = extract_states(chart_cls)
    nodes = tuple(_node(states, state) for state in graph.states)
    name = getattr(chart_cls, "name", None) or chart_cls.__name__
    return Diagram(str(name), nodes, tuple(_edges(chart_cls)), active_ids(active), frozenset(taken))

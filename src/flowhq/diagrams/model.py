"""The diagram's intermediate model: a flow class reduced to nodes and edges.

Like python-statemachine's ``contrib/diagram`` (whose ``extract`` gives us the state tree and
state types), extraction builds a small model and one renderer per format prints it. flowhq
adds what its runner knows: each component's kind and text, result events with their
guards, the commands that fire events, and results no transition handles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statemachine.contrib.diagram.extract import extract as extract_states
from statemachine.contrib.diagram.model import DiagramState, StateType

from flowhq.state import ConversationDocument
from flowhq.statecharts import ComponentState, Flow
from flowhq.statecharts.checks import handles
from flowhq.statecharts.model import transitions

__all__ = ["Diagram", "Edge", "Node", "active_ids", "extract"]


@dataclass(frozen=True)
class Node:
    """A state. ``kind`` is the component kind, or state/compound/parallel/history/final."""

    id: str
    kind: str
    label: str
    initial: bool = False
    final: bool = False
    children: tuple[Node, ...] = ()

    @property
    def is_cluster(self) -> bool:
        """Compound and parallel states are drawn as clusters around their children."""
        return bool(self.children)


@dataclass(frozen=True)
class Edge:
    """A transition (``kind="transition"``), or an unhandled result (``kind="unhandled"``)."""

    source: str
    target: str | None
    events: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    kind: str = "transition"

    @property
    def label(self) -> str:
        """``event [guard] (typed: keyword)`` as shown on the edge."""
        text = " / ".join(self.events)
        if self.guards:
            text += " [" + ", ".join(self.guards) + "]"
        if self.commands:
            text += " (typed: " + ", ".join(f"'{c}'" for c in self.commands) + ")"
        if self.kind == "unhandled":
            text += " — unhandled!"
        return text


@dataclass(frozen=True)
class Diagram:
    """Everything a renderer draws for one flow."""

    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    active: frozenset[str] = field(default_factory=frozenset)

    def walk(self) -> Iterable[Node]:
        """Every node, parents before children, in document order."""

        def visit(nodes: Sequence[Node]) -> Iterable[Node]:
            for node in nodes:
                yield node
                yield from visit(node.children)

        return visit(self.nodes)


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


def _node(flow_cls: type[Flow], diagram_state: DiagramState) -> Node:
    state = _state(flow_cls, diagram_state.id)
    kind = _kind(state, diagram_state)
    label = state.describe() if isinstance(state, ComponentState) else diagram_state.id
    children = tuple(_node(flow_cls, child) for child in diagram_state.children)
    return Node(
        id=diagram_state.id,
        kind=kind,
        label=label,
        initial=bool(diagram_state.is_initial),
        final=bool(state.final),
        children=children,
    )


def _state(flow_cls: type[Flow], state_id: str) -> Any:
    if state_id in flow_cls.states_map:
        return flow_cls.states_map[state_id]
    for state in flow_cls.states_map.values():  # history states are not in states_map
        for history in state.history:
            if history.id == state_id:
                return history
    raise KeyError(state_id)


def _guards(transition: Any) -> tuple[str, ...]:
    guards = []
    for spec in transition.cond:
        name = str(spec)
        guards.append(name if getattr(spec, "expected_value", True) else f"not {name}")
    return tuple(guards)


def _edges(flow_cls: type[Flow]) -> list[Edge]:
    keywords: dict[str, list[str]] = {}
    for keyword, event in flow_cls.commands.items():
        keywords.setdefault(event, []).append(keyword)
    edges = []
    for transition in transitions(flow_cls):
        names = [str(event) for event in transition.events]
        # `done_state_x` is declared as `done_state_x` and `done.state.x`: show the latter.
        events = tuple(
            e for e in names if not any(o != e and o.replace(".", "_") == e for o in names)
        )
        edges.append(
            Edge(
                source=transition.source.id,
                target=transition.target.id if transition.target is not None else None,
                events=events,
                guards=_guards(transition),
                commands=tuple(k for event in events for k in keywords.get(event, [])),
            )
        )
    for state in flow_cls.states_map.values():
        if isinstance(state, ComponentState) and not state.final:
            edges.extend(
                Edge(source=state.id, target=None, events=(result,), kind="unhandled")
                for result in state.results
                if not handles(state, result)
            )
    return edges


def active_ids(active: Iterable[str] | ConversationDocument | None) -> frozenset[str]:
    """Normalise ``active``: a configuration (state ids) or a stored conversation document."""
    if active is None:
        return frozenset()
    if isinstance(active, ConversationDocument):
        return frozenset(active.chart.configuration)
    if isinstance(active, str | bytes | Mapping):
        raise TypeError("active takes a list of state ids or a ConversationDocument")
    return frozenset(active)


def extract(
    flow_cls: type[Flow], *, active: Iterable[str] | ConversationDocument | None = None
) -> Diagram:
    """Reduce ``flow_cls`` to a :class:`Diagram`."""
    graph = extract_states(flow_cls)
    nodes = tuple(_node(flow_cls, state) for state in graph.states)
    return Diagram(flow_cls.name, nodes, tuple(_edges(flow_cls)), active_ids(active))

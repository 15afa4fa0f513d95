"""The diagram's intermediate model: a flow reduced to nodes and edges.

Like python-statemachine's ``contrib/diagram``, :mod:`flowhq.diagrams.extract` builds this
small model and one renderer per format (``mermaid.py``, ``dot.py``) prints it. Everything
here is plain, frozen and ordered, so the renderers' output is byte-stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flowhq.statecharts.component_state import format_delay

__all__ = ["Diagram", "Edge", "Node", "Timing"]


@dataclass(frozen=True)
class Node:
    """A state. ``kind`` is the component kind, or state/compound/parallel/history/final.

    ``notes`` are extra lines drawn under the label (``reminders: 2h``).
    """

    id: str
    kind: str
    label: str
    initial: bool = False
    final: bool = False
    children: tuple[Node, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_cluster(self) -> bool:
        """Compound and parallel states are drawn as clusters around their children."""
        return bool(self.children)


@dataclass(frozen=True)
class Timing:
    """An edge's event that only time produces: a ``timeout``, or the end of a ``Wait``.

    ``delays`` are the timers' delays in seconds (several when the edge leaves a compound
    state whose questions time out after different delays); ``wait`` is true when every
    timer is a ``Wait``'s, whose ``done`` reads better as just ``after 10m``.
    """

    event: str
    delays: tuple[float, ...]
    wait: bool = False

    @property
    def label(self) -> str:
        """``after 10m`` for a wait, else ``timeout (after 23h)``."""
        after = "after " + " or ".join(format_delay(delay) for delay in self.delays)
        return after if self.wait else f"{self.event} ({after})"


@dataclass(frozen=True)
class Edge:
    """A transition (``kind="transition"``), or an unhandled result (``kind="unhandled"``).

    ``timings`` say which of its events are timers firing, and after how long;
    ``by_person`` that a person fires it, resuming a ``Handoff`` (``Headquarters.resume``).
    """

    source: str
    target: str | None
    events: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    kind: str = "transition"
    timings: tuple[Timing, ...] = ()
    by_person: bool = False

    @property
    def label(self) -> str:
        """``event [guard] (typed: keyword)`` as shown on the edge.

        A timer's event shows its delay: ``timeout (after 23h)``, or ``after 10m`` for the
        end of a ``Wait``.
        """
        timed = {timing.event: timing.label for timing in self.timings}
        text = " / ".join(timed.get(event, event) for event in self.events)
        if self.guards:
            text += " [" + ", ".join(self.guards) + "]"
        if self.commands:
            text += " (typed: " + ", ".join(f"'{c}'" for c in self.commands) + ")"
        if self.by_person:
            text += " (by a person)"
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
    taken: frozenset[tuple[str, str | None, str]] = field(default_factory=frozenset)
    """Transitions to mark as just taken: ``(source, target, event)``."""

    def was_taken(self, edge: Edge) -> bool:
        """Whether ``edge`` is one of the transitions just taken."""
        return any((edge.source, edge.target, event) in self.taken for event in edge.events)

    def walk(self) -> Iterable[Node]:
        """Every node, parents before children, in document order."""

        def visit(nodes: Sequence[Node]) -> Iterable[Node]:
            for node in nodes:
                yield node
                yield from visit(node.children)

        return visit(self.nodes)

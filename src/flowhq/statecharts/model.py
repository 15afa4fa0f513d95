"""Read-only walks over a flow class's states and transitions, shared by checks and diagrams."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from statemachine import State

__all__ = [
    "all_states",
    "ancestors",
    "declared_events",
    "describe",
    "leaf_of",
    "transitions",
]


def all_states(flow_cls: Any) -> Iterator[State]:
    """Every state of the flow in document order, history pseudo-states included."""

    def walk(states: list[State]) -> Iterator[State]:
        for state in states:
            yield state
            yield from walk(list(state.states))
            yield from state.history

    yield from walk(list(flow_cls.states))


def ancestors(state: State) -> list[State]:
    """The parents of ``state``, innermost first."""
    return list(state.ancestors())


def transitions(flow_cls: Any) -> Iterator[Any]:
    """Every declared transition (excluding python-statemachine's implicit initial ones)."""
    for state in all_states(flow_cls):
        for transition in state.transitions:
            if not transition.initial:
                yield transition


def leaf_of(state: State) -> bool:
    """Whether ``state`` is atomic (no children) and not a history pseudo-state."""
    return bool(not state.states and not state.is_history)


def declared_events(events: Iterable[object]) -> tuple[str, ...]:
    """A transition's event names as the flow declares them, each event once.

    python-statemachine declares ``done_state_x`` under two names, as written and as
    ``done.state.x``; only the written one is kept, so reports, coverage and diagrams
    speak one name for one event.
    """
    names = [str(event) for event in events]
    return tuple(n for n in names if "." not in n or n.replace(".", "_") not in names)


def describe(transition: Any) -> str:
    """A transition as messages print it, naming states by id.

    ``transition 'go' from 'a' to 'b'``, ``eventless transition from 'a' to 'b'``,
    ``targetless transition 'ping' from 'a'``.
    """
    events = declared_events(transition.events)
    lacks = (("eventless", not events), ("targetless", not transition.targets))
    kinds = ", ".join(kind for kind, lacking in lacks if lacking)
    head = f"{kinds} transition" if kinds else "transition"
    if events:
        head += " " + " or ".join(repr(event) for event in events)
    text = f"{head} from {transition.source.id!r}"
    if transition.targets:
        text += " to " + ", ".join(repr(target.id) for target in transition.targets)
    return text

"""Static checks of a flow class (DESIGN §7).

They run when a ``Flow`` subclass is created (problems raise ``FlowDefinitionError``) and from
``check_flow`` / ``flowhq check``. Each problem is one readable line naming the state.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from statemachine import State

from flowhq.statecharts.component_state import ComponentState
from flowhq.statecharts.model import all_states, leaf_of, transitions

__all__ = ["find_problems", "handles"]


def _events(transition: Any) -> list[str]:
    return [str(event) for event in transition.events]


def _scope(state: State) -> list[State]:
    """``state`` and its ancestors: every state whose transitions apply while it is active."""
    return [state, *state.ancestors()]


def handles(state: State, result: str) -> bool:
    """Whether ``result`` leaves ``state`` (by a transition from it or an ancestor)."""
    for owner in _scope(state):
        for transition in owner.transitions:
            if transition.initial:
                continue
            if result in _events(transition):
                return True
            if transition.is_eventless and not list(transition.cond):  # `cond` holds `unless` too
                return True
    return False


def _duplicate_ids(flow_cls: Any) -> list[str]:
    counts = Counter(state.id for state in all_states(flow_cls))
    return [
        f"state id {state_id!r} is used {count} times; state ids must be unique in a flow"
        for state_id, count in counts.items()
        if count > 1
    ]


def _unhandled_results(states: list[State]) -> list[str]:
    problems = []
    for state in states:
        if not isinstance(state, ComponentState) or state.final:
            continue
        for result in state.results:
            if not handles(state, result):
                problems.append(
                    f"state {state.id!r}: result {result!r} of its {state.kind} is not handled "
                    "(add a transition from it or an enclosing state)"
                )
    return problems


def _entered_with(state: State) -> list[State]:
    """States that become active when ``state`` is entered by default."""
    entered = [state]
    if state.parallel:
        for child in state.states:
            entered.extend(_entered_with(child))
    elif state.states:
        initial = next((child for child in state.states if child.initial), state.states[0])
        entered.extend(_entered_with(initial))
    return entered


def _reachable(flow_cls: Any) -> set[str]:
    initial = flow_cls.initial_state
    seen: set[str] = set()
    frontier = list(_entered_with(initial)) if initial is not None else []
    while frontier:
        state = frontier.pop()
        if state.id in seen:
            continue
        seen.add(state.id)
        for ancestor in state.ancestors():
            if ancestor.id not in seen:
                frontier.append(ancestor)
        for transition in state.transitions:
            for target in transition.targets:
                if target.is_history:
                    # A history state resumes any child its parent had; its default is one more.
                    frontier.append(target)
                    parent = target.parent
                    if parent is not None:
                        for child in parent.states:
                            frontier.extend(_entered_with(child))
                else:
                    frontier.extend(_entered_with(target))
                    frontier.extend(target.ancestors())
    return seen


def _unreachable(flow_cls: Any, states: list[State]) -> list[str]:
    reachable = _reachable(flow_cls)
    return [
        f"state {state.id!r} is unreachable from the initial state"
        for state in states
        if state.id not in reachable
    ]


def _dead_ends(states: list[State]) -> list[str]:
    problems = []
    for state in states:
        if not leaf_of(state) or state.final:
            continue
        if not any(
            not transition.initial for owner in _scope(state) for transition in owner.transitions
        ):
            problems.append(f"state {state.id!r} is not final and has no way out")
    return problems


def _history_without_default(states: list[State]) -> list[str]:
    return [
        f"history state {state.id!r} has no default transition "
        f"(add e.g. `{state.id}.to(<a child>)` so a first visit has somewhere to go)"
        for state in states
        if state.is_history and not list(state.transitions)
    ]


def _input_components(state: State) -> list[str]:
    found = [state.id] if isinstance(state, ComponentState) and state.accepts_input else []
    for child in state.states:
        found.extend(_input_components(child))
    return found


def _parallel_inputs(states: list[State]) -> list[str]:
    problems = []
    for state in states:
        if not state.parallel:
            continue
        regions = [(region.id, _input_components(region)) for region in state.states]
        waiting = [(region, inputs) for region, inputs in regions if inputs]
        if len(waiting) > 1:
            names = ", ".join(f"{inputs[0]!r} (in {region!r})" for region, inputs in waiting)
            problems.append(
                f"parallel state {state.id!r}: input components {names} could wait for input "
                "at once; a user message could not tell which one it answers"
            )
    return problems


def _components(states: list[State], flow_cls: Any) -> list[str]:
    problems: list[str] = []
    state_ids = {state.id for state in states}
    saved: dict[str, str] = {}
    for state in states:
        if not isinstance(state, ComponentState):
            continue
        problems.extend(f"state {state.id!r}: {problem}" for problem in state.definition_problems)
        save_as = getattr(state, "save_as", None)
        if save_as:
            if save_as in state_ids:
                problems.append(
                    f"state {state.id!r}: save_as={save_as!r} collides with a state id; "
                    "saved values and component data share one namespace"
                )
            saved[save_as] = state.id
    events = {str(event) for transition in transitions(flow_cls) for event in _events(transition)}
    for keyword, event in getattr(flow_cls, "commands", {}).items():
        if event not in events:
            problems.append(
                f"command {keyword!r} fires event {event!r}, which no transition handles"
            )
    return problems


def find_problems(flow_cls: Any) -> list[str]:
    """Return every structural problem of ``flow_cls``, one readable line each."""
    states = list(all_states(flow_cls))
    problems = _duplicate_ids(flow_cls)
    problems += _components(states, flow_cls)
    problems += _unhandled_results(states)
    problems += _unreachable(flow_cls, states)
    problems += _dead_ends(states)
    problems += _history_without_default(states)
    problems += _parallel_inputs(states)
    return problems

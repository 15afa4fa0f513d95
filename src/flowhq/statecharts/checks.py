"""Static checks of a flow class (see docs/architecture.md and docs/guide.md).

They run when a ``Flow`` subclass is created (problems raise ``FlowDefinitionError``) and from
``check_flow`` / ``flowhq check``. Each problem is one readable line naming the state.
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import Any

from statemachine import State

from flowhq.statecharts.component_state import ComponentState
from flowhq.statecharts.model import all_states, leaf_of, transitions

__all__ = ["find_problems", "handles", "saved_names"]


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
        for outcome in state.outcomes:
            if not any(handles(state, result) for result in outcome):
                either = " or ".join(repr(result) for result in outcome)
                problems.append(
                    f"state {state.id!r}: result {either} of its {state.kind} is not handled "
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
    for state in states:
        if not isinstance(state, ComponentState):
            continue
        own = [*state.definition_problems, *state.flow_problems(flow_cls)]
        problems.extend(f"state {state.id!r}: {problem}" for problem in own)
    events = {str(event) for transition in transitions(flow_cls) for event in _events(transition)}
    for keyword, event in getattr(flow_cls, "commands", {}).items():
        if event not in events:
            problems.append(
                f"command {keyword!r} fires event {event!r}, which no transition handles"
            )
    return problems


def saved_names(states: list[State]) -> dict[str, list[str]]:
    """Every value name some state saves, with the states that save it."""
    names: dict[str, list[str]] = {}
    for state in states:
        if isinstance(state, ComponentState):
            for name in sorted(state.saves):
                names.setdefault(name, []).append(state.id)
    return names


def _template_names(states: list[State], flow_cls: Any) -> list[str]:
    """Every plain ``{name}`` is saved by a state or given at the start.

    Outside data is namespaced (``{dashboard.x}``, ``{action.x}``).
    """
    provided = set(saved_names(states)) | set(getattr(flow_cls, "start_data", ()))
    problems = []
    for state in states:
        if not isinstance(state, ComponentState):
            continue
        for name in dict.fromkeys(state.template_fields):
            if "." in name or name in provided:
                continue
            close = difflib.get_close_matches(name, sorted(provided), n=1)
            hint = f"; did you mean {{{close[0]}}}?" if close else ""
            problems.append(
                f"state {state.id!r}: template value {{{name}}} is saved by no state{hint} "
                "(values from outside the flow are {dashboard.name} or {action.name}, or "
                "given by start(data=...) and listed in the flow's start_data; an Action or "
                "ApiCall handler declares what it saves with saves=)"
            )
    return problems


def _entered_leaves(target: State) -> list[State] | None:
    """Atomic states entered by a transition to ``target``; ``None`` when history decides."""
    if target.is_history:
        return None
    leaves: list[State] = []
    for state in _entered_with(target):
        if leaf_of(state):
            leaves.append(state)
    return leaves


def _next_states(state: State, result: str) -> list[State] | None:
    """Where ``result`` can take ``state``, or ``None`` when this check cannot follow it.

    The targets of the matching transitions, up to the first unguarded one.
    """
    found: list[State] = []
    for owner in _scope(state):
        for transition in owner.transitions:
            if transition.initial or result not in _events(transition):
                continue
            for target in transition.targets:
                leaves = _entered_leaves(target)
                if leaves is None:
                    return None
                found.extend(leaves)
            if not list(transition.cond):
                return found
    return None  # every candidate is guarded: a guard may refuse them all


def _endless_loops(states: list[State]) -> list[str]:
    """Cycles of states that finish at once (Message, ApiCall, Action) with no way out.

    Every message to such a conversation would run into the step limit. A cycle that a
    guard, another result, or a state waiting for input can leave is fine.
    """
    runs_through = {
        state.id: state
        for state in states
        if isinstance(state, ComponentState)
        and not state.accepts_input
        and not state.final
        and leaf_of(state)
    }
    edges: dict[str, set[str]] = {}
    leaves: set[str] = set()  # states from which the chain can stop
    for state_id, state in runs_through.items():
        targets: set[str] = set()
        for outcome in state.outcomes:
            handled = [r for r in outcome if handles(state, r)]
            nxt = _next_states(state, handled[0]) if handled else None
            if nxt is None:
                leaves.add(state_id)
                continue
            for target in nxt:
                if target.id in runs_through:
                    targets.add(target.id)
                else:
                    leaves.add(state_id)
        edges[state_id] = targets
    problems = []
    for component in _strongly_connected(edges):
        looped = len(component) > 1 or any(s in edges[s] for s in component)
        leaves_it = any(s in leaves or edges[s] - component for s in component)
        if looped and not leaves_it:
            names = ", ".join(repr(s) for s in sorted(component))
            problems.append(
                f"states {names} form a loop that never waits for input: every result leads "
                "back into it, so each message would hit the step limit (add a way out, such "
                "as a guarded transition or a state that asks the user)"
            )
    return problems


def _strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (flows may be large; recursion limits are not)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root, successors in edges.items():
        if root in index:
            continue
        work = [(root, iter(sorted(successors)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


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
    problems += _template_names(states, flow_cls)
    problems += _endless_loops(states)
    return problems

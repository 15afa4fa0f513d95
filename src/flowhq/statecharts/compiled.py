"""A flow compiled once into plain nodes and transitions, and its guard evaluator.

python-statemachine declares, checks and draws flows and is the reference semantics, but
constructing a chart instance per message (registering every callback) costs far more than
the step itself. A flow class is therefore compiled once into the tables here, which the
interpreter in :mod:`flowhq.statecharts.chart` runs per message.

Guards are the flow's own: they are evaluated through one python-statemachine instance per
flow class (its callback registry, with the usual dependency injection), set to the
conversation's configuration first. They receive the event being processed (``event``,
``None`` for an eventless transition) and flowhq's guard context (``component_result``,
``data``, ``labels``, ``dashboard``, ``action``) for every transition, eventless and
``done.state.*`` ones included — as python-statemachine gives it when a ``prepare_event``
callback supplies that context. Flows have no other callbacks (the checks refuse
entry/exit/transition actions and ``prepare_event``), so nothing else of an instance is
needed.

What the runtime does not run is listed once, in :data:`UNSUPPORTED`: a flow class using any
of it is refused when it is defined (``FlowDefinitionError``, from the same list) and
``compiled`` refuses it too, so the checks and the engine cannot disagree.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen
from statemachine import State, StateChart
from statemachine.callbacks import CallbackGroup
from statemachine.exceptions import InvalidDefinition
from statemachine.model import Model
from statemachine.orderedset import OrderedSet
from statemachine.spec_parser import names_in_boolean_expr

from flowhq.errors import FlowDefinitionError
from flowhq.statecharts.model import all_states, declared_events, describe, transitions

__all__ = [
    "UNSUPPORTED",
    "CompiledFlow",
    "Node",
    "Trans",
    "Unsupported",
    "compiled",
    "idle_instance",
    "unsupported",
]


class NoTransitionError(LookupError):
    """An event enabled no transition (python-statemachine's ``TransitionNotAllowed``)."""

    def __init__(self, event: str, configuration: Sequence[str]) -> None:
        self.event = event
        self.configuration = list(configuration)
        super().__init__(f"no transition for {event!r} from {sorted(configuration)}")


@define(eq=False, slots=True)
class Node:
    """One state of a compiled flow (history pseudo-states included)."""

    id: str
    state: State
    order: int
    parent: Node | None
    final: bool
    parallel: bool
    deep: bool | None  # None: not a history state; else whether it is deep history
    children: list[Node] = field(factory=list)
    history: list[Node] = field(factory=list)
    transitions: list[Trans] = field(factory=list)
    initial: Trans | None = None
    ancestors: tuple[Node, ...] = ()

    @property
    def is_history(self) -> bool:
        """Whether this is a history pseudo-state."""
        return self.deep is not None

    @property
    def is_compound(self) -> bool:
        """Has children and is not parallel."""
        return bool(self.children) and not self.parallel

    @property
    def is_atomic(self) -> bool:
        """Has no children."""
        return not self.children

    def is_descendant(self, other: Node) -> bool:
        """Whether ``other`` is a proper ancestor of this node."""
        return other in self.ancestors

    def __repr__(self) -> str:
        return f"Node({self.id})"


@define(eq=False, slots=True)
class Trans:
    """One transition of a compiled flow."""

    source: Node
    targets: tuple[Node, ...]
    descriptors: tuple[tuple[str, ...] | None, ...]  # None matches any event ("*")
    events: tuple[str, ...]
    internal: bool
    is_self: bool
    cond_key: str | None  # registry key of its guards, when it has any
    transition: Any  # the python-statemachine Transition (for guard callbacks, reports)
    # The domain when no target is a history state (it then depends only on the chart's
    # structure); computed once. ``_UNSET`` until then.
    static_domain: Any = field(default=None)
    has_static_domain: bool = False
    _declared: dict[str, str] = field(factory=dict)

    @property
    def eventless(self) -> bool:
        """Whether the transition has no event (it is taken when its guards allow)."""
        return not self.descriptors

    @property
    def target(self) -> Node | None:
        """The first target."""
        return self.targets[0] if self.targets else None

    def matches(self, tokens: tuple[str, ...]) -> bool:
        """SCXML descriptor matching: ``done`` matches ``done`` and ``done.state.x``."""
        for descriptor in self.descriptors:
            if descriptor is None or tokens[: len(descriptor)] == descriptor:
                return True
        return False

    def declared_event(self, event: str) -> str:
        """The event, as this transition declares it, that ``event`` matched.

        ``done.state.x`` taken by a transition declared as ``done_state_x`` reports
        ``done_state_x``: reports and coverage speak the names written in the flow.
        """
        known = self._declared.get(event)
        if known is not None:
            return known
        found = event
        tokens = tuple(event.split("."))
        for declared, descriptor in zip(self.events, self.descriptors, strict=True):
            if descriptor is None or tokens[: len(descriptor)] == descriptor:
                alias = declared.replace(".", "_")  # `done.state.x` is `done_state_x`
                found = next(
                    e for e in declared_events(self.events) if e.replace(".", "_") == alias
                )
                break
        self._declared[event] = found
        return found

    def __repr__(self) -> str:
        targets = ",".join(t.id for t in self.targets)
        return f"Trans({self.source.id}->{targets} on {'|'.join(self.events)})"


def _descriptor(event: str) -> tuple[str, ...] | None:
    if event == "*":
        return None
    if event.endswith(".*"):
        event = event[:-2]
    elif event.endswith("."):
        event = event[:-1]
    return tuple(event.split(".")) if event else ()


class CompiledFlow:
    """A flow class as plain nodes and transitions, plus its guard evaluator."""

    def __init__(self, flow_cls: type[StateChart[Any]]) -> None:
        """Compile ``flow_cls``.

        Raises:
            FlowDefinitionError: the flow uses something the runtime does not run
                (:data:`UNSUPPORTED`).
        """
        problems = unsupported(flow_cls)
        if problems:
            raise FlowDefinitionError(flow_cls.__name__, problems)
        self.flow_cls = flow_cls
        self.nodes: dict[str, Node] = {}
        by_state: dict[int, Node] = {}

        def build(state: State, parent: Node | None) -> Node:
            deep = bool(getattr(state, "type").is_deep) if state.is_history else None  # noqa: B009
            node = Node(
                id=state.id,
                state=state,
                order=state.document_order,
                parent=parent,
                final=bool(state.final),
                parallel=bool(state.parallel),
                deep=deep,
            )
            node.ancestors = (parent, *parent.ancestors) if parent is not None else ()
            self.nodes[node.id] = node
            by_state[id(state)] = node
            node.children = [build(child, node) for child in state.states]
            node.history = [build(history, node) for history in state.history]
            return node

        self.roots = [build(state, None) for state in flow_cls.states]
        self._guards: StateChart[Any] | None = None
        self._attributes: frozenset[str] = frozenset()
        self._legal: dict[tuple[str, ...], tuple[str, ...] | None] = {}
        for node in self.nodes.values():
            for transition in node.state.transitions:
                trans = self._compile(transition, node, by_state)
                if transition.initial:
                    # Several children marked initial make several initial transitions;
                    # python-statemachine enters by the first one, in document order.
                    if node.initial is None:
                        node.initial = trans
                else:
                    node.transitions.append(trans)
        initial = flow_cls.initial_state
        assert initial is not None
        self.initial = self.nodes[initial.id]

    @staticmethod
    def _compile(transition: Any, source: Node, by_state: dict[int, Node]) -> Trans:
        events = tuple(str(event) for event in transition.events)
        cond = transition.cond
        return Trans(
            source=source,
            targets=tuple(by_state[id(target)] for target in transition.targets),
            descriptors=tuple(_descriptor(event) for event in events),
            events=events,
            internal=bool(transition.internal),
            is_self=bool(transition.is_self),
            cond_key=cond.key if list(cond) else None,
            transition=transition,
        )

    @property
    def guards(self) -> StateChart[Any]:
        """The python-statemachine instance whose registry evaluates guards (made once)."""
        if self._guards is None:
            self._guards = idle_instance(self.flow_cls)
            self._attributes = frozenset(vars(self._guards))
        return self._guards

    def _forget_guard_state(self, machine: StateChart[Any]) -> None:
        """Drop attributes a guard set on the shared instance.

        Flows keep no data of their own: what one conversation's guard stored on ``self``
        must not reach the next conversation's guards.
        """
        for name in [name for name in vars(machine) if name not in self._attributes]:
            delattr(machine, name)

    def guard(
        self,
        trans: Trans,
        configuration: Sequence[Node],
        kwargs: Mapping[str, Any],
        event: str | None = None,
    ) -> bool:
        """Evaluate ``trans``'s guards as python-statemachine does (``cond`` and ``unless``)."""
        if trans.cond_key is None:
            return True
        machine = self.guards
        if len(vars(machine)) != len(self._attributes):
            self._forget_guard_state(machine)
        # As python-statemachine keeps it on the model: one state bare, several in a set.
        ids = [node.id for node in configuration]
        machine.model.state = ids[0] if len(ids) == 1 else OrderedSet(ids)
        call = {
            **kwargs,
            "event": event,
            "machine": machine,
            "model": machine.model,
            "transition": trans.transition,
            "state": trans.source.state,
            "source": trans.source.state,
            "target": trans.target.state if trans.target is not None else None,
            "event_data": None,
        }
        return bool(machine._callbacks.all(trans.cond_key, **call))

    def legal(self, configuration: Sequence[str]) -> tuple[str, ...] | None:
        """``configuration`` in document order if the flow can be in it, else ``None``.

        Legal: known ids; one top-level state; every active state's parent active; a
        compound with exactly one active child; a parallel state with all its regions.
        Answers are cached: a flow has few positions.
        """
        key = tuple(configuration)
        cache = self._legal
        if key in cache:
            return cache[key]
        answer = self._check_legal(key)
        if len(cache) < 4096:
            cache[key] = answer
        return answer

    def _check_legal(self, configuration: tuple[str, ...]) -> tuple[str, ...] | None:
        nodes = self.nodes
        if not configuration or any(state_id not in nodes for state_id in configuration):
            return None
        active = [nodes[state_id] for state_id in configuration]
        members = {id(node) for node in active}
        if sum(1 for node in active if node.parent is None) != 1:
            return None
        if not all(_fits(node, members) for node in active):
            return None
        return tuple(node_id for node_id in nodes if id(nodes[node_id]) in members)


def _fits(node: Node, members: set[int]) -> bool:
    """Whether ``node`` sits right among the active ``members`` (by ``id``)."""
    if node.is_history or (node.parent is not None and id(node.parent) not in members):
        return False
    children = sum(1 for child in node.children if id(child) in members)
    if node.parallel:
        return children == len(node.children)
    return children == 1 if node.is_compound else True


@functools.cache  # a class's structure never changes once created
def compiled(flow_cls: type[StateChart[Any]]) -> CompiledFlow:
    """The compiled form of ``flow_cls`` (built once per class)."""
    return CompiledFlow(flow_cls)


# -- what the runtime does not run: the one list ------------------------------------------


def idle_instance(cls: Any) -> Any:
    """An instance of ``cls`` set at its initial state without entering it (no callbacks run).

    Its callback registry evaluates guards; it is never sent an event.
    """
    model = Model()  # type: ignore[no-untyped-call]
    model.state = OrderedSet([cls.initial_state.id])
    return cls(model=model)


@frozen
class Unsupported:
    """Something python-statemachine runs that the compiled runtime does not.

    Attributes:
        feature: What it is, in a few words.
        find: The problems it makes in a flow class, one readable line each (states named
            by id). Called with the class and, when ``needs_chart``, a built instance.
        needs_chart: Whether ``find`` reads a built instance's callback registry.
    """

    feature: str
    find: Callable[[Any, Any], list[str]]
    needs_chart: bool = False


# Callback groups a flow may not fill: side effects belong in components (Action, ApiCall),
# where they go through the StateManager, the ErrorHandler and the outbox. Guards (COND)
# are the only callbacks a flow declares.
_ACTION_GROUPS = {
    CallbackGroup.PREPARE: "prepare_event callback",
    CallbackGroup.ENTER: "entry action",
    CallbackGroup.EXIT: "exit action",
    CallbackGroup.BEFORE: "before-transition action",
    CallbackGroup.ON: "transition action",
    CallbackGroup.AFTER: "after-transition action",
    CallbackGroup.VALIDATOR: "transition validator",
    CallbackGroup.INVOKE: "invoked service",
}


def _owner(cls: Any, owner: Any) -> str:
    """The flow, a state or a transition, as messages name it."""
    if owner is cls:
        return f"flow {cls.__name__}"
    if isinstance(owner, State):
        return f"{'history state' if owner.is_history else 'state'} {owner.id!r}"
    return describe(owner)


def _actions(cls: Any, machine: Any) -> list[str]:
    registry = machine._callbacks
    problems: list[str] = []
    for owner in [cls, *all_states(cls), *transitions(cls)]:
        for spec in owner._specs:
            label = _ACTION_GROUPS.get(spec.group)
            key = spec.group.build_key(owner._specs)
            if label is None or key not in registry or not list(registry[key]):
                continue
            names = ", ".join(sorted({str(c) for c in registry[key]}))
            article = "an" if label[0] in "aeiou" else "a"
            problems.append(
                f"{_owner(cls, owner)} has {article} {label} ({names}); flows only declare guards: "
                "put side effects in an Action or ApiCall state"
            )
    return problems


def _async_guards(_cls: Any, machine: Any) -> list[str]:
    if not machine._callbacks.has_async_callbacks:
        return []
    return ["guards must be synchronous: do I/O in an ApiCall or Action state"]


# Classes of these modules define python-statemachine's and flowhq's own __init__.
_LIBRARY = ("statemachine.", "flowhq.statecharts.")


def _custom_init(cls: Any, _machine: Any) -> list[str]:
    owners = [
        klass.__name__
        for klass in cls.__mro__
        if "__init__" in vars(klass)
        and issubclass(klass, StateChart)
        and not klass.__module__.startswith(_LIBRARY)
    ]
    if not owners:
        return []
    where = "" if owners == [cls.__name__] else f" (in {owners[0]})"
    return [
        f"flow {cls.__name__} defines __init__{where}: flowhq does not create a flow per "
        "conversation (one instance per flow class evaluates the guards), so it would not run "
        "per conversation. Remove it: keep what a conversation knows with save_value (guards "
        "read it as `data`) and shared objects such as clients at module level"
    ]


def _start_configuration(cls: Any, _machine: Any) -> list[str]:
    values = list(getattr(cls, "start_configuration_values", None) or ())
    initial = cls.initial_state
    if not values or (initial is not None and values == [initial.value]):
        return []  # none, or the initial state (as python-statemachine's SCXML reader sets it)
    states_map = cls.states_map
    ids = ", ".join(repr(states_map[v].id if v in states_map else v) for v in values)
    return [
        f"flow {cls.__name__} sets start_configuration_values ({ids}): a flow starts at its "
        "initial state; mark that state initial=True instead (each region of a parallel "
        "state starts at its own initial state)"
    ]


def _state_values(cls: Any, _machine: Any) -> list[str]:
    return [
        f"state {state.id!r} has value {state.value!r}: flowhq saves states by id, so a "
        f"state's value is its id (remove value={state.value!r})"
        for state in all_states(cls)
        if state.value != state.id
    ]


def _redeclared_states(cls: Any, _machine: Any) -> list[str]:
    """States a subclass declared again, which the parent's transitions still lead to."""
    own = {id(state) for state in all_states(cls)}
    problems: dict[str, str] = {}
    for transition in transitions(cls):
        for stale in [transition.source, *transition.targets]:
            if id(stale) in own or stale.id in problems:
                continue
            problems[stale.id] = (
                f"state {stale.id!r} is declared again in flow {cls.__name__}, but "
                f"{describe(transition)} still leads to the {stale.id!r} it replaced: give the "
                f"new state another name (with transitions of its own) instead of redeclaring "
                f"{stale.id!r}"
            )
    return list(problems.values())


def _guard_functions(cls: Any, transition: Any) -> Iterator[tuple[str, Any]]:
    """The guards (``cond`` and ``unless``) of ``transition``: (name, function)."""
    for spec in transition._specs:
        if spec.group is not CallbackGroup.COND:
            continue
        if callable(spec.func):
            yield spec.attr_name, spec.func
            continue
        names = names_in_boolean_expr(spec.func) if spec.may_contain_boolean_expression else ()
        for name in sorted(names or {spec.attr_name}):
            found = getattr(cls, name, None)
            if callable(found):
                yield name, found


def _declares(function: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or a callable without a signature
        return False
    found = parameters.get(name)
    return found is not None and found.kind is not inspect.Parameter.VAR_KEYWORD


def _event_data_guards(cls: Any, _machine: Any) -> list[str]:
    return [
        f"{describe(transition)} has a guard {name!r} that declares event_data, which flowhq "
        "does not give guards; declare what it reads instead (event, component_result, data, "
        "labels, dashboard, action, source, target)"
        for transition in transitions(cls)
        for name, function in _guard_functions(cls, transition)
        if _declares(function, "event_data")
    ]


def _allows_unhandled_events(cls: Any, _machine: Any) -> list[str]:
    if not getattr(cls, "allow_event_without_transition", False):
        return []
    return [
        f"flow {cls.__name__} sets allow_event_without_transition = True: a result or command "
        "that no transition takes is an error in flowhq (the step is rolled back and the user "
        "told), never silently nothing; remove the setting and add the transition"
    ]


def _catches_errors(cls: Any, _machine: Any) -> list[str]:
    if not getattr(cls, "catch_errors_as_events", False):
        return []
    return [
        f"flow {cls.__name__} sets catch_errors_as_events = True: a guard that raises rolls "
        "the step back through flowhq's ErrorHandler, not into an error.execution event; "
        "remove the setting (a component's errors already reach its 'error' transition)"
    ]


#: Everything of python-statemachine the runtime does not run as python-statemachine does.
#: Flow classes using any of it are refused when defined, and ``compiled`` refuses them.
UNSUPPORTED: tuple[Unsupported, ...] = (
    Unsupported("a custom __init__", _custom_init),
    Unsupported(
        "start_configuration_values (a start elsewhere than the initial state)",
        _start_configuration,
    ),
    Unsupported("state values other than the state's id", _state_values),
    Unsupported("states a subclass declares again", _redeclared_states),
    Unsupported("guards that declare event_data", _event_data_guards),
    Unsupported("allow_event_without_transition", _allows_unhandled_events),
    Unsupported("catch_errors_as_events", _catches_errors),
    Unsupported("callbacks other than guards", _actions, needs_chart=True),
    Unsupported("asynchronous guards", _async_guards, needs_chart=True),
)


def _unresolved(cls: Any, exc: InvalidDefinition) -> str:
    """python-statemachine's "Error on <transition> when resolving callbacks", by id.

    Its message names the state or transition by display name; the owner is found again by
    that text, so the message can name it by id.
    """
    cause = exc.__cause__
    for owner in [*all_states(cls), *transitions(cls)]:
        if cause is not None and str(exc) == f"Error on {owner} when resolving callbacks: {cause}":
            return f"{_owner(cls, owner)}: a callback cannot be found ({cause})"
    return f"the chart cannot be built: {exc}"


def unsupported(flow_cls: Any, *, build: bool = True) -> list[str]:
    """What of :data:`UNSUPPORTED` ``flow_cls`` uses, one readable line each.

    Args:
        flow_cls: A flow (or any python-statemachine ``StateChart``) class.
        build: Also build an instance to read its callbacks; the class-creation checks skip
            it when the structure is already known broken (an instance may not build).
    """
    problems = [
        p for item in UNSUPPORTED if not item.needs_chart for p in item.find(flow_cls, None)
    ]
    if problems or not build:
        return problems
    try:
        machine = idle_instance(flow_cls)
    except InvalidDefinition as exc:
        return [_unresolved(flow_cls, exc)]
    except Exception as exc:
        return [f"the chart cannot be built: {exc}"]
    found = {p for item in UNSUPPORTED if item.needs_chart for p in item.find(flow_cls, machine)}
    return sorted(found)

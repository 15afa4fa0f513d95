"""The runtime chart: a flow compiled to tables and interpreted per message.

python-statemachine declares, checks and draws flows and is the reference semantics, but
constructing a chart instance per message (registering every callback) costs far more than
the step itself. A flow is therefore compiled once into plain nodes and transitions, and
each message is interpreted over them with the SCXML algorithm exactly as
python-statemachine's engine runs it: the same transition selection and preemption, the
same exit and entry sets and orders, the same history values, the same ``done.state``
events, the same event-descriptor matching. ``tests/test_engine_differential.py`` runs both
side by side over every test flow and thousands of random event sequences.

Guards are the flow's own: they are evaluated through one python-statemachine instance per
flow class (its callback registry, with the usual dependency injection), set to the
conversation's configuration first. They receive the event being processed (``event``,
``None`` for an eventless transition) and flowhq's guard context (``component_result``,
``data``, ``labels``, ``dashboard``, ``action``) for every transition, eventless and
``done.state.*`` ones included — as python-statemachine gives it when a ``prepare_event``
callback supplies that context. Flows have no other callbacks (the checks refuse
entry/exit/transition actions and ``prepare_event``), so nothing else of an instance is
needed.

Not thread-safe; one event loop. A ``Chart`` belongs to one step of one conversation.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field
from statemachine import State, StateChart
from statemachine.orderedset import OrderedSet

from flowhq.statecharts.flow import idle_instance
from flowhq.statecharts.model import declared_events

__all__ = ["Chart", "CompiledFlow", "NoTransitionError", "Node", "Trans", "compiled"]


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

    def chart(
        self,
        configuration: Iterable[str] = (),
        history: Mapping[str, Sequence[str]] | None = None,
    ) -> Chart:
        """A chart of this flow at ``configuration`` (state ids), with ``history`` values.

        Raises:
            KeyError: an id this flow does not have.
        """
        nodes = self.nodes
        config = [nodes[state_id] for state_id in configuration]
        missing = {id(a): a for node in config for a in node.ancestors if a not in config}
        if missing:  # ancestors are part of a configuration; add any left out, in order
            config = [n for n in nodes.values() if n in config or id(n) in missing]
        values = {key: [nodes[v] for v in ids] for key, ids in (history or {}).items()}
        for key in values:
            if not nodes[key].is_history:
                raise KeyError(key)
        chart = Chart(self, config, values)
        chart.running = not _finished(config)
        return chart


def _fits(node: Node, members: set[int]) -> bool:
    """Whether ``node`` sits right among the active ``members`` (by ``id``)."""
    if node.is_history or (node.parent is not None and id(node.parent) not in members):
        return False
    children = sum(1 for child in node.children if id(child) in members)
    if node.parallel:
        return children == len(node.children)
    return children == 1 if node.is_compound else True


def _finished(configuration: Sequence[Node]) -> bool:
    """Whether a configuration is a finished chart.

    A top-level final state, or a top-level parallel state whose regions all rest in final
    states (python-statemachine keeps a chart restored there running; flowhq does not).
    """
    return any(
        node.parent is None and (node.final or (node.parallel and _in_final(node, configuration)))
        for node in configuration
    )


def _in_final(node: Node, configuration: Collection[Node]) -> bool:
    """SCXML's isInFinalState: a compound rests in a final child, a parallel in all regions."""
    if node.parallel:
        return all(_in_final(child, configuration) for child in node.children)
    return any(child.final and child in configuration for child in node.children)


@functools.cache  # a class's structure never changes once created
def compiled(flow_cls: type[StateChart[Any]]) -> CompiledFlow:
    """The compiled form of ``flow_cls`` (built once per class)."""
    return CompiledFlow(flow_cls)


@define(slots=True)
class _Entry:
    node: Node
    trans: Trans


class Chart:
    """One conversation's chart during one step: its configuration and history values.

    ``send`` and ``start`` record what they did in ``entered`` (states entered, in order,
    with whether history brought them back), ``taken`` (transitions taken, with the event)
    and ``finished`` (a top-level final state was reached).
    """

    def __init__(
        self, flow: CompiledFlow, configuration: list[Node], history: dict[str, list[Node]]
    ) -> None:
        self.flow = flow
        self.configuration = configuration
        self.history_values = history
        self.running = True
        self.internal: list[str] = []
        self.entered: list[tuple[Node, bool]] = []
        self.taken: list[tuple[Trans, str]] = []
        self._root_parallel_final: Node | None = None

    # -- what users of a chart read ------------------------------------------------------

    def configuration_ids(self) -> list[str]:
        """The active state ids, in document order (as flowhq stores them)."""
        active = {id(node) for node in self.configuration}
        return [node.id for node in self.flow.nodes.values() if id(node) in active]

    def history_ids(self) -> dict[str, list[str]]:
        """The history values as state ids."""
        return {key: [node.id for node in values] for key, values in self.history_values.items()}

    def is_active(self, state_id: str) -> bool:
        """Whether ``state_id`` is in the configuration."""
        return any(node.id == state_id for node in self.configuration)

    # -- running -------------------------------------------------------------------------

    def start(self, kwargs: Mapping[str, Any]) -> None:
        """Enter the initial configuration and run what it enables."""
        initial = Trans(
            source=self.flow.initial,  # only its targets matter for an initial entry
            targets=(self.flow.initial,),
            descriptors=((),),
            events=("__initial__",),
            internal=False,
            is_self=False,
            cond_key=None,
            transition=None,
        )
        self._enter([initial], set(), initial=True)
        self._run(None, kwargs)

    def send(self, event: str, kwargs: Mapping[str, Any]) -> None:
        """Process one external event, then everything it enables.

        Raises:
            NoTransitionError: the event enabled no transition (nothing changed).
        """
        if not self.running:
            raise NoTransitionError(event, [node.id for node in self.configuration])
        self._run(event, kwargs)

    def enabled_events(self, kwargs: Mapping[str, Any]) -> set[str]:
        """Events some active state's transition would take now (a guard that raises counts).

        Like python-statemachine, only transitions declared on active states are looked at.
        """
        enabled: set[str] = set()
        for node in self.configuration:
            for trans in node.transitions:
                fresh = [event for event in trans.events if event not in enabled]
                if not fresh:
                    continue
                try:
                    allowed = self.flow.guard(trans, self.configuration, kwargs, fresh[0])
                except Exception:
                    allowed = True
                if allowed:
                    enabled.update(fresh)
        return enabled

    def _run(self, event: str | None, kwargs: Mapping[str, Any]) -> None:
        """python-statemachine's processing loop for one external event (or none)."""
        try:
            self._loop(event, kwargs)
        except BaseException:
            self.internal.clear()  # like python-statemachine: queued events die with the step
            raise

    def _loop(self, event: str | None, kwargs: Mapping[str, Any]) -> None:
        took = True
        external = event
        while took and self.running:
            took = self._macrostep(kwargs)
            self._check_root_final()
            if not self.running:
                break
            if external is not None:
                tokens = tuple(external.split("."))
                enabled = self._select(lambda t, tok=tokens: t.matches(tok), kwargs, external)
                if not enabled:
                    raise NoTransitionError(external, [node.id for node in self.configuration])
                self._microstep(enabled, external)
                external = None
                took = True

    def _macrostep(self, kwargs: Mapping[str, Any]) -> bool:
        took = False
        while True:
            enabled = self._select(lambda t: t.eventless, kwargs, None)
            event = None
            if not enabled:
                if not self.internal:
                    return took
                event = self.internal.pop(0)
                tokens = tuple(event.split("."))
                enabled = self._select(lambda t, tok=tokens: t.matches(tok), kwargs, event)
            if enabled:
                took = True
                self._microstep(enabled, event)

    def _select(self, predicate: Any, kwargs: Mapping[str, Any], event: str | None) -> list[Trans]:
        enabled: list[Trans] = []
        configuration = self.configuration
        for node in configuration:
            if not node.is_atomic:
                continue
            found = self._first_match(node, predicate, kwargs, event)
            if found is not None and found not in enabled:
                enabled.append(found)
        return self._filter_conflicts(enabled) if len(enabled) > 1 else enabled

    def _first_match(
        self, node: Node, predicate: Any, kwargs: Mapping[str, Any], event: str | None
    ) -> Trans | None:
        for owner in (node, *node.ancestors):
            for trans in owner.transitions:
                if predicate(trans) and self.flow.guard(trans, self.configuration, kwargs, event):
                    return trans
        return None

    def _filter_conflicts(self, transitions: list[Trans]) -> list[Trans]:
        filtered: list[Trans] = []
        for t1 in transitions:
            preempted = False
            remove: list[Trans] = []
            for t2 in filtered:
                if self._exit_set([t1]) & self._exit_set([t2]):
                    if t1.source.is_descendant(t2.source):
                        remove.append(t2)
                    else:
                        preempted = True
                        break
            if not preempted:
                for t3 in remove:
                    filtered.remove(t3)
                filtered.append(t1)
        return filtered

    # -- one microstep ---------------------------------------------------------------------

    def _microstep(self, transitions: list[Trans], event: str | None) -> None:
        previous = list(self.configuration)
        try:
            exited = self._exit(transitions)
            self._enter(transitions, exited, initial=False)
        except BaseException:
            self.configuration = previous
            raise
        for trans in transitions:
            self.taken.append((trans, event or ""))

    def _exit_set(self, transitions: Iterable[Trans]) -> set[int]:
        return {id(info[0]) for info in self._exit_infos(transitions)}

    def _exit_infos(self, transitions: Iterable[Trans]) -> list[tuple[Node, Trans]]:
        # Like python-statemachine's OrderedSet of StateTransition, which compares states only.
        infos: list[tuple[Node, Trans]] = []
        seen: set[int] = set()
        for trans in transitions:
            if not trans.targets:
                continue
            domain = self._domain(trans)
            for node in self.configuration:
                if (domain is None or node.is_descendant(domain)) and id(node) not in seen:
                    seen.add(id(node))
                    infos.append((node, trans))
        return infos

    def _exit(self, transitions: list[Trans]) -> set[int]:
        infos = sorted(self._exit_infos(transitions), key=lambda i: i[0].order, reverse=True)
        for node, _ in infos:
            for history in node.history:
                if history.deep:
                    value = [s for s in self.configuration if s.is_descendant(node)]
                else:
                    value = [s for s in self.configuration if s.parent is node]
                self.history_values[history.id] = value
        exited: set[int] = set()
        for node, _ in infos:
            exited.add(id(node))
            if node in self.configuration:
                self.configuration.remove(node)
        return exited

    def _domain(self, trans: Trans) -> Node | None:
        if trans.has_static_domain:
            return trans.static_domain  # type: ignore[no-any-return]
        domain = self._compute_domain(trans)
        if not any(target.is_history for target in trans.targets):
            trans.static_domain, trans.has_static_domain = domain, True
        return domain

    def _compute_domain(self, trans: Trans) -> Node | None:
        targets = self._effective_targets(trans)
        if not targets:
            return None
        source = trans.source
        if (
            trans.internal
            and source.is_compound
            and all(target.is_descendant(source) for target in targets)
        ):
            return source
        target = trans.target
        if trans.internal and trans.is_self and target is not None and target.is_atomic:
            return source
        return self._lcca([source, *targets])

    @staticmethod
    def _lcca(nodes: list[Node]) -> Node | None:
        head, *tail = nodes
        for ancestor in head.ancestors:
            if ancestor.is_compound and all(node.is_descendant(ancestor) for node in tail):
                return ancestor
        return None

    def _effective_targets(self, trans: Trans) -> list[Node]:
        targets: list[Node] = []
        for target in trans.targets:
            if target.is_history:
                if target.id in self.history_values:
                    found = self.history_values[target.id]
                else:
                    found = [n for t in target.transitions for n in self._effective_targets(t)]
                targets.extend(n for n in found if n not in targets)
            elif target not in targets:
                targets.append(target)
        return targets

    # -- entering ------------------------------------------------------------------------

    def _enter(self, transitions: list[Trans], exited: set[int], *, initial: bool) -> None:
        to_enter: list[_Entry] = []
        resumed: set[int] = set()
        for trans in transitions:
            for target in trans.targets:
                self._add_descendants(_Entry(target, trans), to_enter, resumed, initial=initial)
            ancestor = None if initial else self._domain(trans)
            for target in self._effective_targets(trans):
                self._add_ancestors(_Entry(target, trans), ancestor, to_enter, resumed)
        ordered = sorted(to_enter, key=lambda e: e.node.order)
        configuration = self.configuration
        for entry in ordered:
            node = entry.node
            if node not in configuration:
                configuration.append(node)
            self.entered.append((node, id(node) in resumed))
            if node.final:
                self._final(node)
        del exited  # the configuration already lost them in _exit

    @staticmethod
    def _add(to_enter: list[_Entry], entry: _Entry) -> None:
        # python-statemachine's entry set compares states only: the first entry wins.
        if not any(e.node is entry.node for e in to_enter):
            to_enter.append(entry)

    def _enters_target(self, trans: Trans) -> bool:
        flow_cls = self.flow.flow_cls
        target = trans.target
        return bool(
            flow_cls.enable_self_transition_entries
            or not trans.internal
            or not (trans.is_self or (target is not None and target.is_descendant(trans.source)))
        )

    def _add_descendants(
        self, entry: _Entry, to_enter: list[_Entry], resumed: set[int], *, initial: bool
    ) -> None:
        node = entry.node
        if node.is_history:
            self._add_history(entry, to_enter, resumed)
            return
        if initial or self._enters_target(entry.trans):
            self._add(to_enter, entry)
        if node.parallel:
            for child in node.children:
                if not any(e.node.is_descendant(child) for e in to_enter):
                    self._add_descendants(
                        _Entry(child, entry.trans), to_enter, resumed, initial=initial
                    )
        elif node.is_compound:
            trans = node.initial
            assert trans is not None
            for target in trans.targets:
                self._add_descendants(_Entry(target, trans), to_enter, resumed, initial=initial)
            for target in trans.targets:
                self._add_ancestors(_Entry(target, trans), node, to_enter, resumed)

    def _add_history(self, entry: _Entry, to_enter: list[_Entry], resumed: set[int]) -> None:
        history = entry.node
        stored = self.history_values.get(history.id)
        if stored is not None:
            for node in stored:
                resumed.add(id(node))
                if history.deep:
                    self._add(to_enter, _Entry(node, entry.trans))
                else:
                    self._add_descendants(
                        _Entry(node, entry.trans), to_enter, resumed, initial=False
                    )
            for node in stored:
                self._add_ancestors(_Entry(node, entry.trans), history.parent, to_enter, resumed)
            return
        for trans in history.transitions:
            assert trans.target is not None
            self._add_descendants(_Entry(trans.target, trans), to_enter, resumed, initial=False)
        for trans in history.transitions:
            assert trans.target is not None
            self._add_ancestors(_Entry(trans.target, trans), history.parent, to_enter, resumed)

    def _add_ancestors(
        self, entry: _Entry, bound: Node | None, to_enter: list[_Entry], resumed: set[int]
    ) -> None:
        for ancestor in entry.node.ancestors:
            if bound is not None and ancestor is bound:
                break
            self._add(to_enter, _Entry(ancestor, entry.trans))
            if ancestor.parallel:
                for child in ancestor.children:
                    if not any(e.node.is_descendant(child) for e in to_enter):
                        self._add_descendants(
                            _Entry(child, entry.trans), to_enter, resumed, initial=False
                        )

    def _final(self, node: Node) -> None:
        parent = node.parent
        if parent is None:
            self.running = False
            return
        self.internal.append(f"done.state.{parent.id}")
        grandparent = parent.parent
        if (
            grandparent is not None
            and grandparent.parallel
            and all(_in_final(child, self.configuration) for child in grandparent.children)
        ):
            self.internal.append(f"done.state.{grandparent.id}")
            if grandparent.parent is None:
                self._root_parallel_final = grandparent

    def _check_root_final(self) -> None:
        node = self._root_parallel_final
        if node is None:
            return
        self._root_parallel_final = None
        if node in self.configuration and _in_final(node, self.configuration):
            self.running = False

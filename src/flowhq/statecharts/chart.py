"""The chart interpreter: one conversation's chart, run per message over a compiled flow.

Each message is interpreted over the tables of :mod:`flowhq.statecharts.compiled` with the
SCXML algorithm exactly as python-statemachine's engine runs it: the same transition
selection and preemption, the same exit and entry sets and orders, the same history values,
the same ``done.state`` events, the same event-descriptor matching.
``tests/statecharts/test_engine_differential.py`` runs both side by side over every test flow
and thousands of random event sequences.

``Chart.start`` and ``Chart.send`` return a :class:`Macrostep`, a frozen record of what they
did, which the step runner reads (the chart keeps no list for its caller to empty).

Not thread-safe; one event loop. A ``Chart`` belongs to one step of one conversation.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from attrs import define, frozen

from flowhq.statecharts.compiled import CompiledFlow, Node, NoTransitionError, Trans

__all__ = ["Chart", "Macrostep"]


@frozen
class Macrostep:
    """What one ``Chart.start`` or ``Chart.send`` did.

    Attributes:
        entered: The states entered, in order, each with whether history brought it back.
        taken: The transitions taken, in order, each with the event that took it (``""``
            for an eventless transition).
        finished: Whether the chart is finished afterwards (a top-level final state).
    """

    entered: tuple[tuple[Node, bool], ...]
    taken: tuple[tuple[Trans, str], ...]
    finished: bool


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


@define(slots=True)
class _Entry:
    node: Node
    trans: Trans


class Chart:
    """One conversation's chart during one step: its configuration and history values.

    ``Chart(flow)`` is a chart not started yet; ``Chart(flow, configuration, history)`` one
    restored at saved state ids (ancestors left out of ``configuration`` are added) with
    its history values, without entering anything. ``start`` and ``send`` return what they
    did as a :class:`Macrostep`.

    Raises:
        KeyError: ``configuration`` or ``history`` names an id the flow does not have.
    """

    def __init__(
        self,
        flow: CompiledFlow,
        configuration: Iterable[str] = (),
        history: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        nodes = flow.nodes
        config = [nodes[state_id] for state_id in configuration]
        missing = {id(a): a for node in config for a in node.ancestors if a not in config}
        if missing:  # ancestors are part of a configuration; add any left out, in order
            config = [n for n in nodes.values() if n in config or id(n) in missing]
        values = {key: [nodes[v] for v in ids] for key, ids in (history or {}).items()}
        for key in values:
            if not nodes[key].is_history:
                raise KeyError(key)
        self.flow = flow
        self.configuration = config
        self.history_values = values
        self.running = not _finished(config)
        self.internal: list[str] = []
        #: What the last ``start`` or ``send`` did before it raised; ``None`` after one that
        #: returned. A step that raises is thrown away, so only diagnosis (and the
        #: differential test) reads it.
        self.interrupted: Macrostep | None = None
        self._entered: list[tuple[Node, bool]] = []
        self._taken: list[tuple[Trans, str]] = []
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

    def start(self, kwargs: Mapping[str, Any]) -> Macrostep:
        """Enter the initial configuration and run what it enables.

        Raises:
            Exception: a guard's own exception (the chart stays where it got to).
        """
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
        return self._run(None, kwargs, initial)

    def send(self, event: str, kwargs: Mapping[str, Any]) -> Macrostep:
        """Process one external event, then everything it enables.

        Raises:
            NoTransitionError: the event enabled no transition.
            Exception: a guard's own exception (the chart stays where it got to).
        """
        if not self.running:
            self.interrupted = Macrostep((), (), finished=True)
            raise NoTransitionError(event, [node.id for node in self.configuration])
        return self._run(event, kwargs)

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

    def _run(
        self, event: str | None, kwargs: Mapping[str, Any], initial: Trans | None = None
    ) -> Macrostep:
        """python-statemachine's processing loop for one external event (or none)."""
        entered: list[tuple[Node, bool]] = []
        taken: list[tuple[Trans, str]] = []
        self._entered, self._taken, self.interrupted = entered, taken, None
        try:
            if initial is not None:
                self._enter([initial], set(), initial=True)
            self._loop(event, kwargs)
        except BaseException:
            self.internal.clear()  # like python-statemachine: queued events die with the step
            self.interrupted = Macrostep(tuple(entered), tuple(taken), not self.running)
            raise
        return Macrostep(tuple(entered), tuple(taken), not self.running)

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
            self._taken.append((trans, event or ""))

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
            self._entered.append((node, id(node) in resumed))
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

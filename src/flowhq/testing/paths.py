"""Generated test paths: conversations that together take every transition of a flow.

The generator explores the flow for real, on the in-memory store and a ``ManualClock``: from
each reachable conversation state it sends the inputs that can make the waiting component
finish (what its ``examples()`` gives: a validator's samples for a Prompt, each option of a
Choice, yes/no for a Confirm, your own component's examples; and every command keyword),
lets time pass up to each pending timer that finishes a component (a ``timeout=``, a
``Wait``) and fires it, and forces each declared result of ApiCall/Action
states instead of running them. Guards are evaluated by the flow itself, on the data those
inputs saved. Then it picks paths from the start to a final state (or to the depth bound,
for loops) until every reachable declared transition is taken.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowhq.components import Action, ApiCall, Choice, Component, Message
from flowhq.headquarters import Headquarters
from flowhq.messaging import InboundMessage
from flowhq.messaging.key import ConversationKey
from flowhq.persistence import JsonCodec, MemoryStore
from flowhq.runtime.records import ForcedResult, Outcome, StepRecord
from flowhq.state import ConversationDocument
from flowhq.state.document import Timer
from flowhq.state.manager import Messaging, Role, StateManager
from flowhq.statecharts import Flow
from flowhq.statecharts.component_state import format_delay
from flowhq.statecharts.model import all_states
from flowhq.testing.clock import ManualClock
from flowhq.testing.conversation import no_api
from flowhq.testing.coverage import Transition, declared_transitions

__all__ = ["Move", "Path", "PathPlan", "Step", "needs_examples", "paths", "plan"]

KEY = ConversationKey("paths", "+10000000000")


@dataclass(frozen=True)
class Step:
    """One result in a path: ``state`` finished with ``result``.

    ``input`` is the user's message that produced it, ``None`` when the state finished by
    itself; ``forced`` marks ApiCall/Action results the replay forces; ``timer`` is the id
    of the timer whose firing produced it (a ``timeout``, a ``Wait``'s ``done``). A command
    has ``state=None``.
    """

    state: str | None
    result: str
    input: str | None = None
    forced: bool = False
    timer: str | None = None


@dataclass(frozen=True)
class Move:
    """One move of a path and its effect.

    A move is the flow's start (``input`` and ``timer`` are ``None``), an inbound message
    (``input``), or time passing (``timer``): the clock moves ``after`` seconds, to when
    that timer is due, and the due timers fire.
    """

    input: str | None
    forced: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    transitions: tuple[Transition, ...]
    configuration: tuple[str, ...]
    finished: bool
    saved: tuple[tuple[str, str, Any], ...] = ()
    """``(state, name, value)``: placeholder values forced states save (see ``saves=``)."""
    timer: str | None = None
    """The id of the timer a time-passes move waits for (``day.timeout``, ``hold.wait``)."""
    after: float = 0.0
    """How long a time-passes move waited, in seconds."""
    data: tuple[tuple[str, str], ...] = ()
    """``(name, value)``: what the start gave the flow (placeholders for its ``start_data``)."""
    resume: str | None = None
    """The result a person resumes a paused conversation with (``Headquarters.resume``)."""

    @property
    def kind(self) -> str:
        """``start``, ``say`` (a message), ``wait`` (time passes) or ``resume`` (by a person)."""
        if self.timer is not None:
            return "wait"
        if self.resume is not None:
            return "resume"
        return "start" if self.input is None else "say"

    def describe_action(self) -> str:
        """What the move does: ``(start)``, ``say 'yes'``, ``wait 23h (day.timeout)``."""
        if self.timer is not None:
            return f"wait {format_delay(self.after)} ({self.timer})"
        if self.resume is not None:
            return f"resume with {self.resume!r}"
        if self.input is not None:
            return f"say {self.input!r}"
        given = ", ".join(f"{name}={value!r}" for name, value in self.data)
        return f"(start with {given})" if given else "(start)"


@dataclass(frozen=True)
class Path:
    """A conversation from the start: its moves, and what it covers."""

    flow: str
    moves: tuple[Move, ...]

    @property
    def steps(self) -> list[Step]:
        """Every (state, result) step, in order."""
        return [step for move in self.moves for step in move.steps]

    @property
    def transitions(self) -> set[Transition]:
        """The transitions this path takes."""
        return {t for move in self.moves for t in move.transitions}

    @property
    def finished(self) -> bool:
        """Whether the path ends in a final state (else it stopped at the depth bound)."""
        return bool(self.moves) and self.moves[-1].finished

    def describe(self) -> list[str]:
        """Readable lines, one per move."""
        lines = []
        for move in self.moves:
            said = move.describe_action()
            forced = "".join(f" [force {s}={r}]" for s, r in move.forced)
            results = ", ".join(f"{step.state or 'command'}: {step.result}" for step in move.steps)
            lines.append(
                f"{said}{forced} -> {results or '(no result)'} => {list(move.configuration)}"
            )
        return lines


@dataclass
class PathPlan:
    """The generated paths, and the declared transitions no generated input could take."""

    flow: str
    paths: list[Path]
    unreached: set[Transition] = field(default_factory=set)
    no_examples: dict[str, str] = field(default_factory=dict)
    """Waiting components that gave no example input: state id -> kind. The transitions
    on their results cannot be generated (see ``Component.examples``)."""

    @property
    def covered(self) -> set[Transition]:
        """Every transition some path takes."""
        return {t for path in self.paths for t in path.transitions}


@dataclass
class _Node:
    raw: bytes | None
    now: float
    """The clock when the explorer first reached this position (timers are due after it)."""
    depth: int
    finished: bool
    parent: tuple[int, Move] | None = None
    edges: list[tuple[Move, int]] = field(default_factory=list)


class _Forcing:
    """Observer forcing ApiCall/Action results: the chosen ones, else each state's first."""

    def __init__(self, flow_cls: type[Flow], chosen: dict[str, str]) -> None:
        self.flow_cls = flow_cls
        self.chosen = chosen
        self.examples = _live_examples(flow_cls)
        self.defaulted: list[str] = []
        self.fed: list[str] = []
        """Forced states that saved a live menu's example (a variant saves no options)."""
        self.used: list[tuple[str, str]] = []
        self.saved: list[tuple[str, str, Any]] = []
        self.records: list[StepRecord] = []

    def forced_result(self, flow: str, state: str, conversation: str) -> ForcedResult | None:
        component = self.flow_cls.states_map.get(state)
        if not isinstance(component, ApiCall | Action) and not (
            isinstance(component, Component)
            and not component.accepts_input
            and not isinstance(component, Message)
        ):
            return None
        if state in self.chosen:
            result = self.chosen[state]
        else:
            result = component.results[0]
            self.defaulted.append(state)
        self.used.append((state, result))
        # What the skipped handler or action would have saved, so later texts can show it.
        values = {name: self._value(state, name) for name in sorted(component.saves)}
        self.saved.extend((state, name, value) for name, value in values.items())
        return ForcedResult(result, values)

    def _value(self, state: str, name: str) -> Any:
        """A placeholder; for a live menu's options its example (or none, in a variant)."""
        if name not in self.examples:
            return f"<{name}>"
        example = self.examples[name]
        if not example or f"{state}{_NO_OPTIONS}" in self.chosen:
            return {}
        self.fed.append(state)
        return example

    def committed(self, record: StepRecord) -> None:
        self.records.append(record)


_NO_OPTIONS = "#no-options"
"""Marks a variant in which a forced state saves a live menu no options."""


def _live_examples(flow_cls: type[Flow]) -> dict[str, Any]:
    """The saved names live menus read, with the options a forced state saves for each.

    The menu's ``example=``, else no options (only its ``empty`` result can be reached).
    """
    return {
        state.live: state.example or {}
        for state in all_states(flow_cls)
        if isinstance(state, Choice) and isinstance(state.live, str)
    }


def _examples(component: Component, document: ConversationDocument) -> tuple[str, ...]:
    """The inputs ``component`` offers where ``document`` stands (read-only manager)."""
    manager = StateManager(
        copy.deepcopy(document), component=component.id, role=Role.DISPLAY, messaging=Messaging()
    )
    return tuple(dict.fromkeys(example.text for example in component.examples(manager)))


def needs_examples(component: Component) -> bool:
    """Whether ``component`` waits for input and has results only input can produce.

    A ``Handoff`` has none: a person resumes it (the generator does, with each result).
    """
    by_timer = {spec.result for spec in component.timers if spec.result is not None}
    wanting = bool(set(component.results) - by_timer)
    return component.accepts_input and not component.pauses and wanting


def _clock_timers(document: ConversationDocument) -> list[Timer]:
    """The pending timers worth letting time pass for, soonest first.

    Reminders are left out: they send a text and end nothing, so no transition waits
    on them (a wait for a later timer sends them on the way).
    """
    due = [timer for timer in document.timers if timer.kind != "reminder"]
    return sorted(due, key=lambda timer: (timer.due, timer.id))


def _key(document: ConversationDocument) -> str:
    chart, current = document.chart, document.current
    return json.dumps(
        [
            chart.configuration,
            chart.history,
            current.path,
            current.component,
            current.data,
            document.paused is not None,
        ],
        sort_keys=True,
        default=str,
    )


START = ManualClock().now.timestamp()
"""Where the explorer's clock starts (epoch seconds)."""


@dataclass(frozen=True)
class _Action:
    """What a move does: start, say ``text``, wait for ``timer``, or ``resume`` with a result."""

    text: str | None = None
    timer: Timer | None = None
    resume: str | None = None


@dataclass(frozen=True)
class _Ran:
    """One run of a move: the move, the document after it, the clock after it."""

    move: Move
    raw: bytes
    now: float
    forcing: _Forcing


async def _act(
    hq: Headquarters, node: _Node | None, action: _Action, data: tuple[tuple[str, str], ...]
) -> Outcome:
    """Make the move: fire the due timer, resume, start the flow, or say the text."""
    if action.timer is not None:
        return await hq.fire(KEY.channel, KEY.identifier)
    if action.resume is not None:
        return await hq.resume(KEY.channel, KEY.identifier, result=action.resume)
    if node is None:
        return await hq.start(KEY.channel, KEY.identifier, data=dict(data), replace=True)
    assert action.text is not None
    inbound = InboundMessage(KEY.channel, KEY.identifier, f"path-{node.depth}", action.text)
    return await hq.handle(inbound)


class _Explorer:
    def __init__(self, flow_cls: type[Flow], max_depth: int, max_nodes: int) -> None:
        self.flow_cls = flow_cls
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.codec = JsonCodec()
        self.nodes: list[_Node] = []
        self.index: dict[str, int] = {}
        self.root_moves: dict[int, Move] = {}
        self.no_examples: dict[str, str] = {}

    async def _run(
        self, node: _Node | None, action: _Action, chosen: dict[str, str]
    ) -> _Ran | None:
        store = MemoryStore(codec=self.codec)
        waiting = None
        now = START if node is None else node.now
        if node is not None and node.raw is not None:
            before = self.codec.decode(str(KEY), node.raw)
            waiting = before.current.component
            await store.commit(KEY, before, expected=0)
        forcing = _Forcing(self.flow_cls, chosen)
        clock = ManualClock(datetime.fromtimestamp(now, UTC))
        hq = Headquarters(
            flows=[self.flow_cls], store=store, observer=forcing, api=no_api(), clock=clock
        )
        timer, text = action.timer, action.text
        # A flow started by the business gets its start data; placeholders stand in.
        data = (
            tuple((name, f"<{name}>") for name in self.flow_cls.start_data) if node is None else ()
        )
        if timer is not None:
            clock.advance(max(0.0, timer.due - now))
        outcome = await _act(hq, node, action, data)
        if not forcing.records:
            return None  # rolled back: not a move a user can make
        record = forcing.records[-1]
        forced = dict(forcing.used)
        # The user's message produced the waiting component's result, or a command's event;
        # a timer produced the result of the state it belongs to.
        steps = tuple(
            Step(
                origin,
                event,
                input=text if origin is None or origin == waiting else None,
                forced=origin in forced,
                timer=timer.id if timer is not None and origin == timer.state else None,
            )
            for origin, event in record.fired
        )
        document = (await store.load(KEY)).document
        assert document is not None
        after = clock.now.timestamp()
        move = Move(
            input=text,
            forced=tuple(forcing.used),
            steps=steps,
            transitions=record.transitions,
            configuration=record.configuration,
            finished=outcome.finished,
            saved=tuple(forcing.saved),
            timer=timer.id if timer is not None else None,
            after=after - now,
            data=data,
            resume=action.resume,
        )
        return _Ran(move, self.codec.encode(document), after, forcing)

    async def _variants(self, node: _Node | None, action: _Action) -> list[_Ran]:
        """Every way the move can go: one run per combination of forced results."""
        results = []
        pending: deque[dict[str, str]] = deque([{}])
        seen: set[str] = set()
        while pending and len(seen) < 64:
            chosen = pending.popleft()
            marker = json.dumps(chosen, sort_keys=True)
            if marker in seen:
                continue
            seen.add(marker)
            ran = await self._run(node, action, chosen)
            if ran is None:
                continue
            results.append(ran)
            for state in ran.forcing.defaulted:
                component = self.flow_cls.states_map[state]
                assert isinstance(component, Component)
                pending.extend({**chosen, state: r} for r in component.results[1:])
            pending.extend({**chosen, f"{state}{_NO_OPTIONS}": ""} for state in ran.forcing.fed)
        return results

    def _add(self, ran: _Ran, depth: int, parent: int | None) -> int:
        document = self.codec.decode(str(KEY), ran.raw)
        key = _key(document)
        if key in self.index:
            return self.index[key]
        move = ran.move
        node = _Node(
            ran.raw, ran.now, depth, move.finished, (parent, move) if parent is not None else None
        )
        self.nodes.append(node)
        self.index[key] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def _actions(self, document: ConversationDocument) -> list[_Action]:
        """The moves to try where ``document`` stands: answers, commands, time passing."""
        texts: list[str] = list(self.flow_cls.commands)
        waiting = document.current.component
        component = self.flow_cls.states_map.get(waiting) if waiting else None
        timed = [_Action(timer=timer) for timer in _clock_timers(document)]
        if document.paused is not None:  # messages change nothing: a person resumes it
            results = component.results if isinstance(component, Component) else ()
            resumes = [r for r in results if r != "timeout"] or ["resumed"]
            return [_Action(resume=result) for result in resumes] + timed
        if isinstance(component, Component):
            examples = _examples(component, document)
            if not examples and needs_examples(component):
                self.no_examples[component.id] = component.kind
            texts = [*examples, *texts]
        return [_Action(text=text) for text in texts] + timed

    async def explore(self) -> list[int]:
        roots = []
        for ran in await self._variants(None, _Action()):
            roots.append(self._add(ran, 1, None))
            self.root_moves[roots[-1]] = ran.move
        queue = deque(roots)
        while queue and len(self.nodes) < self.max_nodes:
            index = queue.popleft()
            node = self.nodes[index]
            if node.finished or node.depth >= self.max_depth or node.raw is None:
                continue
            document = self.codec.decode(str(KEY), node.raw)
            here = _key(document)
            outcomes_seen: set[tuple[tuple[str, ...], tuple[Transition, ...]]] = set()
            for action in self._actions(document):
                for ran in await self._variants(node, action):
                    move = ran.move
                    if not move.transitions and _key(self.codec.decode(str(KEY), ran.raw)) == here:
                        continue  # the move changed nothing (an ignored command, ...)
                    effect = (move.configuration, move.transitions)
                    if move.transitions and effect in outcomes_seen:
                        continue  # an equivalent move already did this
                    outcomes_seen.add(effect)
                    before = len(self.nodes)
                    child = self._add(ran, node.depth + 1, index)
                    node.edges.append((move, child))
                    if len(self.nodes) > before:
                        queue.append(child)
        return roots

    def path_to(self, index: int) -> list[Move]:
        moves: list[Move] = []
        node = self.nodes[index]
        while node.parent is not None:
            parent, move = node.parent
            moves.append(move)
            node = self.nodes[parent]
        moves.append(self.root_moves[self.index_of(node)])
        return list(reversed(moves))

    def index_of(self, node: _Node) -> int:
        return next(i for i, n in enumerate(self.nodes) if n is node)

    def to_final(self, index: int) -> list[Move]:
        """Shortest continuation from ``index`` to a final state (empty if none is found)."""
        parents: dict[int, tuple[int, Move] | None] = {index: None}
        queue = deque([index])
        while queue:
            current = queue.popleft()
            if self.nodes[current].finished:
                moves: list[Move] = []
                while parents[current] is not None:
                    previous, move = parents[current]  # type: ignore[misc]
                    moves.append(move)
                    current = previous
                return list(reversed(moves))
            for move, child in self.nodes[current].edges:
                if child not in parents:
                    parents[child] = (current, move)
                    queue.append(child)
        return []


async def _plan(flow_cls: type[Flow], max_depth: int, max_nodes: int) -> PathPlan:
    explorer = _Explorer(flow_cls, max_depth, max_nodes)
    roots = await explorer.explore()
    declared = declared_transitions(flow_cls)
    uncovered = set(declared)
    chosen: list[Path] = []

    def covers(moves: list[Move]) -> set[Transition]:
        return {t for move in moves for t in move.transitions} & uncovered

    candidates = [
        (move, child, index)
        for index, node in enumerate(explorer.nodes)
        for move, child in node.edges
    ]
    for root in roots:
        if not uncovered:
            break
        moves = explorer.path_to(root) + explorer.to_final(root)
        if covers(moves) or not chosen:
            chosen.append(Path(flow_cls.name, tuple(moves)))
            uncovered -= {t for m in moves for t in m.transitions}
    for move, child, index in candidates:  # BFS order: shallow edges first
        if not (set(move.transitions) & uncovered):
            continue
        moves = [*explorer.path_to(index), move, *explorer.to_final(child)]
        chosen.append(Path(flow_cls.name, tuple(moves)))
        uncovered -= {t for m in moves for t in m.transitions}
    unreached = {t for t in uncovered if not _alias_taken(t, chosen)}
    return PathPlan(flow_cls.name, chosen, unreached, dict(sorted(explorer.no_examples.items())))


def _alias_taken(transition: Transition, chosen: list[Path]) -> bool:
    source, target, event = transition
    return any(
        (s, t) == (source, target) and e.replace(".", "_") == event.replace(".", "_")
        for path in chosen
        for s, t, e in path.transitions
    )


def plan(flow_cls: type[Flow], *, max_depth: int = 12, max_nodes: int = 2000) -> PathPlan:
    """Generate paths covering every reachable transition of ``flow_cls``.

    Args:
        flow_cls: The flow.
        max_depth: Longest path, in moves: messages and waits for a timer (bounds loops).
        max_nodes: Bound on distinct conversation states explored.
    """
    return asyncio.run(_plan(flow_cls, max_depth, max_nodes))


async def aplan(flow_cls: type[Flow], *, max_depth: int = 12, max_nodes: int = 2000) -> PathPlan:
    """:func:`plan` for code already running in an event loop."""
    return await _plan(flow_cls, max_depth, max_nodes)


def paths(flow_cls: type[Flow], *, max_depth: int = 12, max_nodes: int = 2000) -> Iterator[Path]:
    """Yield paths that together take every reachable transition of ``flow_cls``.

    Each path runs from the initial state to a final state (or to ``max_depth`` moves,
    for loops); see :func:`plan` for the transitions no generated input reaches.
    """
    yield from plan(flow_cls, max_depth=max_depth, max_nodes=max_nodes).paths

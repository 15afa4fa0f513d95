"""Generated test paths: conversations that together take every transition of a flow.

The generator explores the flow for real, on the in-memory store: from each reachable
conversation state it sends the inputs that can make the waiting component finish (a
validator's samples for a Prompt, each option of a Choice, yes/no for a Confirm, every
command keyword) and forces each declared result of ApiCall/Action states instead of running
them. Guards are evaluated by the flow itself, on the data those inputs saved. Then it picks
paths from the start to a final state (or to the depth bound, for loops) until every
reachable declared transition is taken.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from flowhq.components import Action, ApiCall, Choice, ComponentBase, Confirm, Message, Prompt
from flowhq.headquarters import Headquarters
from flowhq.messaging import InboundMessage
from flowhq.messaging.key import ConversationKey
from flowhq.persistence import JsonCodec, MemoryStore
from flowhq.runtime.records import ForcedResult, StepRecord
from flowhq.state import ConversationDocument
from flowhq.statecharts import Flow
from flowhq.testing.conversation import no_api
from flowhq.testing.coverage import Transition, declared_transitions

__all__ = ["Move", "Path", "PathPlan", "Step", "paths", "plan"]

KEY = ConversationKey("paths", "+10000000000")
GENERIC_ANSWERS = ("hello", "42", "ann@example.com", "+15550001234", "yes", "no")
"""Tried on prompts whose validator carries no ``samples``."""


@dataclass(frozen=True)
class Step:
    """One result in a path: ``state`` finished with ``result``.

    ``input`` is the user's message that produced it, ``None`` when the state finished by
    itself; ``forced`` marks ApiCall/Action results the replay forces. A command has
    ``state=None``.
    """

    state: str | None
    result: str
    input: str | None = None
    forced: bool = False


@dataclass(frozen=True)
class Move:
    """One inbound message of a path (``input=None``: the flow's start) and its effect."""

    input: str | None
    forced: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    transitions: tuple[Transition, ...]
    configuration: tuple[str, ...]
    finished: bool
    saved: tuple[tuple[str, str, str], ...] = ()
    """``(state, name, value)``: placeholder values forced states save (see ``saves=``)."""


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
            said = "(start)" if move.input is None else f"say {move.input!r}"
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

    @property
    def covered(self) -> set[Transition]:
        """Every transition some path takes."""
        return {t for path in self.paths for t in path.transitions}


@dataclass
class _Node:
    raw: bytes | None
    depth: int
    finished: bool
    parent: tuple[int, Move] | None = None
    edges: list[tuple[Move, int]] = field(default_factory=list)


class _Forcing:
    """Observer forcing ApiCall/Action results: the chosen ones, else each state's first."""

    def __init__(self, flow_cls: type[Flow], chosen: dict[str, str]) -> None:
        self.flow_cls = flow_cls
        self.chosen = chosen
        self.defaulted: list[str] = []
        self.used: list[tuple[str, str]] = []
        self.saved: list[tuple[str, str, str]] = []
        self.records: list[StepRecord] = []

    def forced_result(self, flow: str, state: str, conversation: str) -> ForcedResult | None:
        component = self.flow_cls.states_map.get(state)
        if not isinstance(component, ApiCall | Action) and not (
            isinstance(component, ComponentBase)
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
        values = {name: f"<{name}>" for name in sorted(component.saves)}
        self.saved.extend((state, name, value) for name, value in values.items())
        return ForcedResult(result, values)

    def committed(self, record: StepRecord) -> None:
        self.records.append(record)


def _answers(component: ComponentBase) -> tuple[str, ...]:
    if isinstance(component, Confirm):
        return ("yes", "no")
    if isinstance(component, Choice):
        return tuple(component.options)
    if isinstance(component, Prompt):
        if component.validator is None:
            return ("hello",)
        samples = getattr(component.validator, "samples", None)
        return tuple(samples) if samples else GENERIC_ANSWERS
    return GENERIC_ANSWERS


def _key(document: ConversationDocument) -> str:
    chart, current = document.chart, document.current
    return json.dumps(
        [chart.configuration, chart.history, current.path, current.component, current.data],
        sort_keys=True,
        default=str,
    )


class _Explorer:
    def __init__(self, flow_cls: type[Flow], max_depth: int, max_nodes: int) -> None:
        self.flow_cls = flow_cls
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.codec = JsonCodec()
        self.nodes: list[_Node] = []
        self.index: dict[str, int] = {}
        self.root_moves: dict[int, Move] = {}

    async def _run(
        self, raw: bytes | None, text: str | None, chosen: dict[str, str], depth: int
    ) -> tuple[Move, bytes, _Forcing] | None:
        store = MemoryStore(codec=self.codec)
        waiting = None
        if raw is not None:
            before = self.codec.decode(str(KEY), raw)
            waiting = before.current.component
            await store.commit(KEY, before, expected=0)
        forcing = _Forcing(self.flow_cls, chosen)
        hq = Headquarters(flows=[self.flow_cls], store=store, observer=forcing, api=no_api())
        if text is None:
            outcome = await hq.start(KEY.channel, KEY.identifier, replace=True)
        else:
            inbound = InboundMessage(KEY.channel, KEY.identifier, f"path-{depth}", text)
            outcome = await hq.handle(inbound)
        if not forcing.records:
            return None  # rolled back: not a move a user can make
        record = forcing.records[-1]
        forced = dict(forcing.used)
        # The user's message produced the waiting component's result, or a command's event.
        steps = tuple(
            Step(
                origin,
                event,
                input=text if origin is None or origin == waiting else None,
                forced=origin in forced,
            )
            for origin, event in record.fired
        )
        document = (await store.load(KEY)).document
        assert document is not None
        move = Move(
            input=text,
            forced=tuple(forcing.used),
            steps=steps,
            transitions=record.transitions,
            configuration=record.configuration,
            finished=outcome.finished,
            saved=tuple(forcing.saved),
        )
        return move, self.codec.encode(document), forcing

    async def _variants(
        self, raw: bytes | None, text: str | None, depth: int
    ) -> list[tuple[Move, bytes]]:
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
            ran = await self._run(raw, text, chosen, depth)
            if ran is None:
                continue
            move, after, forcing = ran
            results.append((move, after))
            for state in forcing.defaulted:
                component = self.flow_cls.states_map[state]
                assert isinstance(component, ComponentBase)
                pending.extend({**chosen, state: r} for r in component.results[1:])
        return results

    def _add(self, raw: bytes, depth: int, move: Move, parent: int | None) -> int:
        document = self.codec.decode(str(KEY), raw)
        key = _key(document)
        if key in self.index:
            return self.index[key]
        node = _Node(raw, depth, move.finished, (parent, move) if parent is not None else None)
        self.nodes.append(node)
        self.index[key] = len(self.nodes) - 1
        return len(self.nodes) - 1

    async def explore(self) -> list[int]:
        roots = []
        for move, raw in await self._variants(None, None, 0):
            roots.append(self._add(raw, 1, move, None))
            self.root_moves[roots[-1]] = move
        queue = deque(roots)
        while queue and len(self.nodes) < self.max_nodes:
            index = queue.popleft()
            node = self.nodes[index]
            if node.finished or node.depth >= self.max_depth or node.raw is None:
                continue
            document = self.codec.decode(str(KEY), node.raw)
            inputs: list[str] = list(self.flow_cls.commands)
            waiting = document.current.component
            component = self.flow_cls.states_map.get(waiting) if waiting else None
            if isinstance(component, ComponentBase):
                inputs = [*_answers(component), *inputs]
            here = _key(document)
            outcomes_seen: set[tuple[tuple[str, ...], tuple[Transition, ...]]] = set()
            for text in inputs:
                for move, raw in await self._variants(node.raw, text, node.depth):
                    if not move.transitions and _key(self.codec.decode(str(KEY), raw)) == here:
                        continue  # the input changed nothing (an ignored command, ...)
                    effect = (move.configuration, move.transitions)
                    if move.transitions and effect in outcomes_seen:
                        continue  # an equivalent input already did this
                    outcomes_seen.add(effect)
                    before = len(self.nodes)
                    child = self._add(raw, node.depth + 1, move, index)
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
    return PathPlan(flow_cls.name, chosen, {t for t in uncovered if not _alias_taken(t, chosen)})


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
        max_depth: Longest path, in inbound messages (bounds loops).
        max_nodes: Bound on distinct conversation states explored.
    """
    return asyncio.run(_plan(flow_cls, max_depth, max_nodes))


async def aplan(flow_cls: type[Flow], *, max_depth: int = 12, max_nodes: int = 2000) -> PathPlan:
    """:func:`plan` for code already running in an event loop."""
    return await _plan(flow_cls, max_depth, max_nodes)


def paths(flow_cls: type[Flow], *, max_depth: int = 12, max_nodes: int = 2000) -> Iterator[Path]:
    """Yield paths that together take every reachable transition of ``flow_cls``.

    Each path runs from the initial state to a final state (or to ``max_depth`` messages,
    for loops); see :func:`plan` for the transitions no generated input reaches.
    """
    yield from plan(flow_cls, max_depth=max_depth, max_nodes=max_nodes).paths

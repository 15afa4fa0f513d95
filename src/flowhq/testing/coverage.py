"""Transition coverage: which declared transitions the conversation tests exercised.

Every committed step counts, whatever caused it: a message, a start, or a timer fired by
``Conversation.advance`` (a timeout, a ``Wait``'s end).
"""

from __future__ import annotations

import contextvars
from collections import defaultdict

from flowhq.runtime.records import StepRecord
from flowhq.statecharts import Flow
from flowhq.statecharts.model import declared_events, transitions

__all__ = ["Transition", "TransitionCoverage", "active_coverage", "declared_transitions"]

Transition = tuple[str, str | None, str]
"""(source state id, target state id, event)."""

active_coverage: contextvars.ContextVar[TransitionCoverage | None] = contextvars.ContextVar(
    "flowhq_active_coverage", default=None
)
"""The recorder every new ``Conversation`` reports to (set by ``pytest --flowhq-coverage``)."""


def declared_transitions(flow_cls: type[Flow]) -> set[Transition]:
    """Every (source, target, event) the flow declares.

    Eventless transitions (a history state's default) are left out: no event names them,
    and they are taken as part of the transition into the history state.
    """
    declared = set()
    for transition in transitions(flow_cls):
        target = transition.target.id if transition.target is not None else None
        for event in declared_events(transition.events):
            declared.add((transition.source.id, target, event))
    return declared


class TransitionCoverage:
    """Collects the transitions committed steps took, per flow."""

    def __init__(self) -> None:
        self.flows: dict[str, type[Flow]] = {}
        self.taken: defaultdict[str, set[Transition]] = defaultdict(set)

    def register(self, flow_cls: type[Flow]) -> None:
        """Include ``flow_cls`` in the report even if no test ran it."""
        self.flows.setdefault(flow_cls.name, flow_cls)

    def record(self, record: StepRecord) -> None:
        """Add the transitions of a committed step."""
        self.taken[record.flow].update(record.transitions)

    def missing(self, flow_cls: type[Flow]) -> set[Transition]:
        """Declared transitions of ``flow_cls`` that no recorded step took."""
        taken = self.taken.get(flow_cls.name, set())
        return {
            (source, target, event)
            for source, target, event in declared_transitions(flow_cls)
            if not any((s, t) == (source, target) and _alias(event, e) for s, t, e in taken)
        }

    def report(self) -> list[str]:
        """One line per flow, then one line per untested transition."""
        lines = []
        for name in sorted(self.flows):
            flow_cls = self.flows[name]
            declared = declared_transitions(flow_cls)
            missing = self.missing(flow_cls)
            done = len(declared) - len(missing)
            lines.append(f"{name}: {done}/{len(declared)} transitions exercised")
            lines.extend(
                f"  untested: {source} --{event}--> {target}"
                for source, target, event in sorted(missing, key=lambda t: (t[0], t[2], str(t[1])))
            )
        return lines


def _alias(declared: str, taken: str) -> bool:
    # `done_state_x` is declared under two names, `done_state_x` and `done.state.x`.
    return declared.replace(".", "_") == taken.replace(".", "_")

"""Putting a saved conversation back on its chart: fingerprint, legal position, migrations.

A conversation stores its flow's fingerprint, its configuration (state ids, ancestors
included) and its history values. When it comes back, the chart is rebuilt there without
entering anything. If the flow changed shape since, the saved position is kept
when it is still one the flow can be in; otherwise it goes through the flow's
``migrations``; what still does not fit restarts the flow (the step runner decides that).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence

from flowhq.statecharts.chart import Chart
from flowhq.statecharts.compiled import CompiledFlow, Node
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.model import all_states, transitions

__all__ = ["fingerprint", "legal_chart", "migrated"]


@functools.cache  # a class's structure does not change once created
def fingerprint(flow_cls: type[Flow]) -> str:
    """A hash of the flow's structure: states, their kinds and nesting, and transitions.

    It changes when the chart changes shape, not when texts are edited.
    """
    states = [
        [s.id, s.parent.id if s.parent else None, getattr(s, "kind", type(s).__name__), s.final]
        for s in all_states(flow_cls)
    ]
    edges = sorted(
        [t.source.id, [target.id for target in t.targets], sorted(str(e) for e in t.events)]
        for t in transitions(flow_cls)
    )
    blob = json.dumps([flow_cls.name, states, edges], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def migrated(
    flow: CompiledFlow, configuration: Sequence[str], migrations: Mapping[str, str]
) -> list[str]:
    """A saved ``configuration`` mapped through ``migrations``, ancestors re-derived.

    Ids that map to no state of the flow are dropped (a removed section around a step that
    still exists), compound targets enter their initial states, and ancestors are added;
    whether the result is a position the flow can be in is for :func:`legal_chart` to say.
    """
    chosen: dict[str, None] = {}
    for state_id in configuration:
        node = flow.nodes.get(migrations.get(state_id, state_id))
        if node is None or node.is_history:
            continue
        for leaf in _default_leaves(node) if node.children else [node]:
            for ancestor in reversed(leaf.ancestors):
                chosen[ancestor.id] = None
            chosen[leaf.id] = None
    return [node_id for node_id in flow.nodes if node_id in chosen]


def _default_leaves(node: Node) -> list[Node]:
    if node.parallel:
        return [leaf for child in node.children for leaf in _default_leaves(child)]
    if node.initial is None or not node.initial.targets:
        return [node]
    return [leaf for target in node.initial.targets for leaf in _default_leaves(target)]


def legal_chart(
    flow: CompiledFlow, configuration: Sequence[str], history: Mapping[str, Sequence[str]]
) -> Chart | None:
    """A chart at ``configuration`` if it is one the flow could be in, else ``None``.

    History values that name unknown states are dropped (a first visit then takes the
    default).
    """
    ordered = flow.legal(configuration)
    if ordered is None:
        return None
    nodes = flow.nodes
    kept = {
        key: values
        for key, values in history.items()
        if key in nodes and nodes[key].is_history and all(value in nodes for value in values)
    }
    return Chart(flow, ordered, kept)

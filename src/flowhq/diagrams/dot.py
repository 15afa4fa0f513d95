"""Graphviz DOT text of a :class:`~flowhq.diagrams.model.Diagram`.

Byte-stable (no object ids, document order), so a diff of a committed diagram shows a real
change. Compound states and parallel regions are clusters. An edge into a compound state
attaches to the cluster through its initial-state dot; an edge out of one (a command such
as ``help`` or ``cancel`` that every state inside accepts) leaves from the cluster's border,
through an invisible anchor, so it does not look like it starts at the initial dot.
"""

from __future__ import annotations

from flowhq.diagrams.model import Diagram, Edge, Node

__all__ = ["render_dot"]

ACTIVE = "#ffd54f"
WARNING = "#c62828"
TAKEN = "#1565c0"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _anchor(node: Node) -> str:
    return f"__start_{node.id}"


def _exit(node: Node) -> str:
    return f"__exit_{node.id}"


def _wrap(text: str, width: int = 36) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def _node_lines(node: Node, diagram: Diagram, depth: int) -> list[str]:
    pad = "  " * depth
    active = node.id in diagram.active
    if node.is_cluster:
        style = "dashed,rounded" if node.kind == "parallel" else "rounded"
        title = node.id + (" (parallel)" if node.kind == "parallel" else "")
        fill = f'style="{style},filled", fillcolor="#fff8e1"' if active else f'style="{style}"'
        lines = [
            f"{pad}subgraph {_quote('cluster_' + node.id)} {{",
            f"{pad}  graph [label={_quote(title)}, {fill}];",
            f"{pad}  {_quote(_anchor(node))} [shape=point, width=0.12];",
            f"{pad}  {_quote(_exit(node))} [shape=point, style=invis, width=0, height=0];",
        ]
        initial = next((c for c in node.children if c.initial), None)
        if initial is not None and node.kind != "parallel":
            lines.append(f"{pad}  {_quote(_anchor(node))} -> {_target(initial)};")
        for child in node.children:
            lines.extend(_node_lines(child, diagram, depth + 1))
        lines.append(f"{pad}}}")
        return lines
    attributes = []
    if node.kind in ("history", "history_deep"):
        attributes += [
            "shape=circle",
            f"label={_quote('H*' if node.kind == 'history_deep' else 'H')}",
        ]
    else:
        label = node.id if node.kind in ("state", "final") else f"{node.id}\n{_wrap(node.label)}"
        label += "".join(f"\n{note}" for note in node.notes)
        attributes.append(f"label={_quote(label)}")
    if node.final:
        attributes.append("peripheries=2")
    if active:
        attributes += [f'fillcolor="{ACTIVE}"', "penwidth=2", 'class="active"']
    attributes.append(f"id={_quote('state-' + node.id)}")
    return [f"{pad}{_quote(node.id)} [{', '.join(attributes)}];"]


def _by_id(diagram: Diagram) -> dict[str, Node]:
    return {node.id: node for node in diagram.walk()}


def _target(node: Node) -> str:
    return _quote(_anchor(node) if node.is_cluster else node.id)


def _source(node: Node) -> str:
    return _quote(_exit(node) if node.is_cluster else node.id)


def _edge_line(edge: Edge, nodes: dict[str, Node], index: int, *, taken: bool) -> list[str]:
    source = nodes[edge.source]
    attributes = [f"label={_quote(edge.label)}"] if edge.label else []
    if taken:
        attributes += [f'color="{TAKEN}"', f'fontcolor="{TAKEN}"', "penwidth=2.5", 'class="taken"']
    if source.is_cluster:
        attributes.append(f"ltail={_quote('cluster_' + source.id)}")
    if edge.kind == "unhandled" or edge.target is None:
        sink = f"__unhandled_{index}"
        attributes += [f'color="{WARNING}"', f'fontcolor="{WARNING}"', "style=bold"]
        return [
            f'  {_quote(sink)} [shape=point, color="{WARNING}", width=0.1];',
            f"  {_source(source)} -> {_quote(sink)} [{', '.join(attributes)}];",
        ]
    target = nodes[edge.target]
    if target.is_cluster:
        attributes.append(f"lhead={_quote('cluster_' + target.id)}")
    if edge.kind == "transition" and not edge.events:
        attributes.append("style=dashed")
    return [f"  {_source(source)} -> {_target(target)} [{', '.join(attributes)}];"]


def render_dot(diagram: Diagram) -> str:
    """Return the DOT text of ``diagram``."""
    lines = [
        f"digraph {_quote(diagram.name)} {{",
        '  graph [rankdir=LR, compound=true, fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", '
        'fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  "__start" [shape=point, width=0.15];',
    ]
    initial = next((n for n in diagram.nodes if n.initial), None)
    if initial is not None:
        lines.append(f'  "__start" -> {_target(initial)};')
    for node in diagram.nodes:
        lines.extend(_node_lines(node, diagram, 1))
    nodes = _by_id(diagram)
    for index, edge in enumerate(diagram.edges):
        lines.extend(_edge_line(edge, nodes, index, taken=diagram.was_taken(edge)))
    lines.append("}")
    return "\n".join(lines) + "\n"

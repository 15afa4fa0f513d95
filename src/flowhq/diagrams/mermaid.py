"""Mermaid ``stateDiagram-v2`` text of a :class:`~flowhq.diagrams.model.Diagram`.

Renders on GitHub and needs no system dependency. Output is byte-stable: it depends only on
the flow's structure and texts, in document order.
"""

from __future__ import annotations

from flowhq.diagrams.model import Diagram, Edge, Node

__all__ = ["render_mermaid"]

_ESCAPES = {
    "#": "#35;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "{": "#123;",
    "}": "#125;",
    ";": "#59;",
    ":": "#58;",
    "\n": " ",
}


# Words Mermaid's parser treats specially; a state with such an id gets a suffix.
_RESERVED = frozenset({"end", "state", "direction", "class", "classdef", "note", "click", "style"})


def _text(value: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in value)


def _id(state_id: str) -> str:
    return f"{state_id}_state" if state_id.lower() in _RESERVED else state_id


def _node_lines(node: Node, diagram: Diagram, depth: int) -> list[str]:
    pad = "    " * depth
    if node.kind in ("history", "history_deep"):
        marker = "H*" if node.kind == "history_deep" else "H"
        return [f'{pad}state "{marker}" as {_id(node.id)}']
    if node.is_cluster:
        lines = [f"{pad}state {_id(node.id)} {{"]
        if node.kind == "parallel":
            for index, region in enumerate(node.children):
                if index:
                    lines.append(f"{pad}    --")
                lines.extend(_node_lines(region, diagram, depth + 1))
        else:
            initial = next((c for c in node.children if c.initial), None)
            if initial is not None:
                lines.append(f"{pad}    [*] --> {_id(initial.id)}")
            for child in node.children:
                lines.extend(_node_lines(child, diagram, depth + 1))
            lines.extend(f"{pad}    {_id(c.id)} --> [*]" for c in node.children if c.final)
        lines.append(f"{pad}}}")
        return lines
    if node.kind in ("state", "final"):
        return [f'{pad}state "{_text(node.id)}" as {_id(node.id)}']
    notes = "".join(f"<br/>{_text(note)}" for note in node.notes)
    return [f'{pad}state "{_text(node.id)}<br/>{_text(node.label)}{notes}" as {_id(node.id)}']


def _edge_line(edge: Edge, index: int) -> list[str]:
    label = _text(edge.label)
    if edge.kind == "unhandled" or edge.target is None:
        sink = f"unhandled_{index}"
        return [
            f'    state "⚠ no transition" as {sink}',
            f"    {_id(edge.source)} --> {sink} : {label}",
            f"    class {sink} unhandled",
        ]
    arrow = f"    {_id(edge.source)} --> {_id(edge.target)}"
    return [arrow + (f" : {label}" if label else "")]


def render_mermaid(diagram: Diagram) -> str:
    """Return the Mermaid text of ``diagram``."""
    lines = ["stateDiagram-v2", "    direction LR"]
    initial = next((n for n in diagram.nodes if n.initial), None)
    if initial is not None:
        lines.append(f"    [*] --> {_id(initial.id)}")
    for node in diagram.nodes:
        lines.extend(_node_lines(node, diagram, 1))
    for index, edge in enumerate(diagram.edges):
        lines.extend(_edge_line(edge, index))
    for node in diagram.nodes:
        if node.final:
            lines.append(f"    {_id(node.id)} --> [*]")
    lines.append("    classDef final stroke-width:3px")
    lines.append("    classDef active fill:#ffd54f,stroke:#f57f17,stroke-width:3px")
    lines.append("    classDef unhandled fill:#ffcdd2,stroke:#c62828,color:#b71c1c")
    finals = [_id(n.id) for n in diagram.walk() if n.final and not n.is_cluster]
    if finals:
        lines.append(f"    class {','.join(finals)} final")
    active = [_id(n.id) for n in diagram.walk() if n.id in diagram.active and not n.is_cluster]
    if active:
        lines.append(f"    class {','.join(active)} active")
    return "\n".join(lines) + "\n"

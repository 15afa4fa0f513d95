"""Diagrams generated from flow classes: Mermaid, DOT, and SVG/PNG through Graphviz.

They come from the executable definition, so they are complete: every transition the runner
can take is drawn, commands and history returns included, and a result no transition handles
shows as a red dangling edge. Templates appear as written, never filled with stored values.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from flowhq.diagrams.dot import render_dot
from flowhq.diagrams.mermaid import render_mermaid
from flowhq.diagrams.model import Diagram, Edge, Node, extract
from flowhq.errors import FlowError
from flowhq.state import ConversationDocument
from flowhq.statecharts import Flow

__all__ = [
    "Diagram",
    "Edge",
    "GraphvizError",
    "Node",
    "extract",
    "render",
    "to_dot",
    "to_mermaid",
]

Active = Iterable[str] | ConversationDocument | None

INSTALL_HINT = (
    "Graphviz's `dot` program is needed for SVG/PNG: install it (Debian/Ubuntu: "
    "`apt-get install graphviz`, macOS: `brew install graphviz`), or use to_mermaid/to_dot."
)


class GraphvizError(FlowError):
    """Graphviz's ``dot`` is missing or failed."""


def to_mermaid(flow_cls: type[Flow], *, active: Active = None) -> str:
    """Mermaid ``stateDiagram-v2`` text of ``flow_cls``.

    Args:
        flow_cls: The flow to draw.
        active: State ids to highlight, or a stored ``ConversationDocument``.
    """
    return render_mermaid(extract(flow_cls, active=active))


def to_dot(flow_cls: type[Flow], *, active: Active = None) -> str:
    """Graphviz DOT text of ``flow_cls`` (see :func:`to_mermaid` for ``active``)."""
    return render_dot(extract(flow_cls, active=active))


def dot_to(dot_text: str, format: str) -> bytes:
    """Run ``dot -T<format>`` on ``dot_text``.

    Raises:
        GraphvizError: when ``dot`` is not installed or fails.
    """
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizError(INSTALL_HINT)
    result = subprocess.run(  # noqa: S603 - fixed argv, our own DOT text on stdin
        [binary, f"-T{format}"], input=dot_text.encode(), capture_output=True, check=False
    )
    if result.returncode != 0:
        raise GraphvizError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def render(
    flow_cls: type[Flow],
    path: str | Path,
    *,
    format: str = "svg",
    active: Active = None,
) -> Path:
    """Write an SVG or PNG of ``flow_cls`` to ``path``; needs Graphviz's ``dot``.

    Raises:
        GraphvizError: when ``dot`` is missing (the message says how to install it).
        ValueError: for a format other than svg or png.
    """
    if format not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png', not {format!r}")
    target = Path(path)
    target.write_bytes(dot_to(to_dot(flow_cls, active=active), format))
    return target

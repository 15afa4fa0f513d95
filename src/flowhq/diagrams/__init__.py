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
from typing import Any

from statemachine import StateChart

from flowhq.diagrams.dot import render_dot
from flowhq.diagrams.extract import Active, extract
from flowhq.diagrams.mermaid import render_mermaid
from flowhq.diagrams.model import Diagram, Edge, Node, Timing
from flowhq.errors import GraphvizError

__all__ = [
    "Diagram",
    "Edge",
    "Node",
    "Timing",
    "extract",
    "render",
    "to_dot",
    "to_mermaid",
    "to_svg",
]

INSTALL_HINT = (
    "Graphviz's `dot` program is needed for SVG/PNG: install it (Debian/Ubuntu: "
    "`apt-get install graphviz`, macOS: `brew install graphviz`), or use to_mermaid/to_dot."
)


def to_mermaid(flow_cls: type[StateChart[Any]], *, active: Active = None) -> str:
    """Mermaid ``stateDiagram-v2`` text of ``flow_cls`` (renders on GitHub).

    Args:
        flow_cls: The flow to draw (or any python-statemachine ``StateChart`` class).
        active: State ids to highlight, or a stored ``ConversationDocument``.

    Returns:
        The text, byte-identical for the same flow in every run and process.
    """
    return render_mermaid(extract(flow_cls, active=active))


def to_dot(
    flow_cls: type[StateChart[Any]],
    *,
    active: Active = None,
    taken: Iterable[tuple[str, str | None, str]] = (),
) -> str:
    """Graphviz DOT text of ``flow_cls``.

    Args:
        flow_cls: The flow to draw (or any python-statemachine ``StateChart`` class).
        active: State ids to highlight, or a stored ``ConversationDocument``.
        taken: Transitions ``(source, target, event)`` to mark as just taken.

    Returns:
        The text, byte-identical for the same flow in every run and process.
    """
    return render_dot(extract(flow_cls, active=active, taken=taken))


def to_svg(
    flow_cls: type[StateChart[Any]],
    *,
    active: Active = None,
    taken: Iterable[tuple[str, str | None, str]] = (),
) -> str:
    """SVG text of ``flow_cls`` through Graphviz's ``dot``.

    Each state is an element with the id ``state-<state id>``; the active ones have the class
    ``active`` and the transitions just taken the class ``taken``.

    Raises:
        GraphvizError: when ``dot`` is missing or fails.
    """
    return dot_to(to_dot(flow_cls, active=active, taken=taken), "svg").decode()


def dot_to(dot_text: str, format: str) -> bytes:
    """Run ``dot -T<format>`` on ``dot_text``.

    Args:
        dot_text: DOT source, e.g. from :func:`to_dot`.
        format: A Graphviz output format (``svg``, ``png``).

    Returns:
        What ``dot`` wrote.

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
    flow_cls: type[StateChart[Any]],
    path: str | Path,
    *,
    format: str = "svg",
    active: Active = None,
) -> Path:
    """Write an SVG or PNG of ``flow_cls`` to ``path``; needs Graphviz's ``dot``.

    Args:
        flow_cls: The flow to draw (or any python-statemachine ``StateChart`` class).
        path: The file to write.
        format: ``"svg"`` or ``"png"``.
        active: State ids to highlight, or a stored ``ConversationDocument``.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        GraphvizError: when ``dot`` is missing (the message says how to install it).
        ValueError: for a format other than svg or png.
    """
    if format not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png', not {format!r}")
    target = Path(path)
    target.write_bytes(dot_to(to_dot(flow_cls, active=active), format))
    return target

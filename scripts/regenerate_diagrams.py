"""Regenerate (or check) the committed diagrams of the example flows: ``make diagrams``.

Repository maintenance, not shipped with the package.

Each flow gets ``diagrams/<name>.md`` (a Mermaid block GitHub renders) and
``diagrams/<name>.svg``. SVG bytes depend on the Graphviz version, so the SVG ends with a
comment holding the hash of the DOT text it was made from. ``--check`` compares the Mermaid
files byte for byte, and the SVGs by that hash plus the presence of every state, which does
not depend on the machine's Graphviz version.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from pathlib import Path

from flowhq.diagrams import dot_to, extract, to_dot, to_mermaid
from flowhq.statecharts import Flow

__all__ = ["EXAMPLES", "expected_files", "main", "stale"]

EXAMPLES = (
    "examples.signup:Signup",
    "examples.support_menu:SupportMenu",
    "examples.order_status:OrderStatus",
    "examples.pizza:PizzaOrder",
    "examples.clinic:Booking",
    "examples.clinic:VisitReminder",
)
MARK = "<!-- flowhq dot sha256:"


def _flow(target: str) -> type[Flow]:
    module, _, name = target.partition(":")
    flow: type[Flow] = getattr(importlib.import_module(module), name)
    return flow


def markdown(flow: type[Flow], target: str) -> str:
    """The ``.md`` file of a flow: a title, where it comes from, the Mermaid block."""
    doc = (flow.__doc__ or "").strip().splitlines()
    summary = f"{doc[0]}\n\n" if doc else ""
    return (
        f"# {flow.name}\n\n{summary}Generated from `{target}` by `make diagrams`; "
        f"do not edit.\n\n```mermaid\n{to_mermaid(flow)}```\n"
    )


def _dot_hash(flow: type[Flow]) -> str:
    return hashlib.sha256(to_dot(flow).encode()).hexdigest()


def svg(flow: type[Flow]) -> bytes:
    """The SVG of a flow, stamped with the hash of the DOT text it was made from."""
    stamp = f"{MARK} {_dot_hash(flow)} -->\n".encode()  # after the root element: valid XML
    return dot_to(to_dot(flow), "svg").rstrip(b"\n") + b"\n" + stamp


def expected_files(root: Path) -> dict[Path, type[Flow]]:
    """The diagram files of every example flow, by path."""
    files: dict[Path, type[Flow]] = {}
    for target in EXAMPLES:
        flow = _flow(target)
        files[root / "diagrams" / f"{flow.name}.md"] = flow
        files[root / "diagrams" / f"{flow.name}.svg"] = flow
    return files


def stale(root: Path) -> list[Path]:
    """The diagram files that are missing or out of date."""
    out = []
    for target in EXAMPLES:
        flow = _flow(target)
        md = root / "diagrams" / f"{flow.name}.md"
        if not md.exists() or md.read_text() != markdown(flow, target):
            out.append(md)
        image = root / "diagrams" / f"{flow.name}.svg"
        text = image.read_text() if image.exists() else ""
        last = text.rstrip("\n").rsplit("\n", 1)[-1]
        if last != f"{MARK} {_dot_hash(flow)} -->" or not _draws_every_state(flow, text):
            out.append(image)
    return out


def _draws_every_state(flow: type[Flow], svg_text: str) -> bool:
    # The stamp says which DOT text the SVG claims to come from; this says it really drew
    # the states (Graphviz titles each node with its id and each cluster with its name).
    titles = (
        f"<title>cluster_{node.id}</title>" if node.is_cluster else f"<title>{node.id}</title>"
        for node in extract(flow).walk()
    )
    return all(title in svg_text for title in titles)


def main(argv: list[str] | None = None) -> int:
    """Write the diagrams, or with ``--check`` list stale ones and exit 1."""
    parser = argparse.ArgumentParser(prog="python -m scripts.regenerate_diagrams")
    parser.add_argument("--check", action="store_true", help="only report stale diagrams")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.root))
    if args.check:
        outdated = stale(args.root)
        for path in outdated:
            print(f"out of date: {path}")
        return 1 if outdated else 0
    (args.root / "diagrams").mkdir(exist_ok=True)
    for target in EXAMPLES:
        flow = _flow(target)
        (args.root / "diagrams" / f"{flow.name}.md").write_text(markdown(flow, target))
        (args.root / "diagrams" / f"{flow.name}.svg").write_bytes(svg(flow))
        print(f"wrote diagrams/{flow.name}.md and .svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``flowhq diagram``: draw a flow (Mermaid, DOT, SVG, PNG), even one whose checks fail.

A result no transition handles is drawn as a red dangling edge: the picture shows what is
wrong instead of refusing to draw it.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TextIO

from flowhq import ConversationKey, diagrams
from flowhq.cli._common import (
    CliError,
    add_flow_argument,
    add_redis_options,
    load_flow,
    redis_store,
)
from flowhq.state import ConversationDocument

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``diagram`` and its options."""
    diagram = commands.add_parser("diagram", help="draw a flow (Mermaid, DOT, SVG, PNG)")
    add_flow_argument(diagram)
    diagram.add_argument(
        "-f", "--format", choices=["mermaid", "dot", "svg", "png"], default="mermaid"
    )
    diagram.add_argument("-o", "--output", metavar="FILE", help="write here (svg/png need it)")
    diagram.add_argument(
        "--conversation", metavar="CHANNEL:IDENTIFIER", help="highlight where it stands"
    )
    add_redis_options(diagram, help="the Redis holding the conversation")


async def _active(args: argparse.Namespace) -> ConversationDocument | None:
    if args.conversation is None:
        return None
    if not args.redis:
        raise CliError("--conversation needs --redis URL")
    key = ConversationKey.parse(args.conversation)
    store = redis_store(args.redis, cluster=args.cluster, inspect=True)
    try:
        document = (await store.load(key)).document
    finally:
        await store.close()
    if document is None:
        raise CliError(f"no conversation {key}")
    return document


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Draw the flow; a flow with problems is drawn too, with a note on stderr."""
    flow = load_flow(args.flow, even_broken=True)
    problems = flow.__flowhq_problems__
    if problems:
        print(
            f"flowhq: {args.flow} has {len(problems)} problem(s) (see `flowhq check`); "
            "unhandled results are drawn in red",
            file=stderr,
        )
    active = asyncio.run(_active(args))
    if args.format in ("svg", "png"):
        if not args.output:
            raise CliError(f"-f {args.format} writes a file: give -o FILE")
        path = diagrams.render(flow, args.output, format=args.format, active=active)
        print(f"wrote {path}", file=stdout)
        return 0
    render = diagrams.to_mermaid if args.format == "mermaid" else diagrams.to_dot
    text = render(flow, active=active)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}", file=stdout)
    else:
        print(text, end="", file=stdout)
    return 0

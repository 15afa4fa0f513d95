"""``flowhq check``: a flow's problems (exit 1), and with ``--paths`` generated test paths.

The paths cover timer transitions too: a move such as ``wait 23h (day.timeout)`` lets time
pass until a timeout or a ``Wait`` ends the question (docs/testing.md).
"""

from __future__ import annotations

import argparse
from typing import TextIO

from flowhq import testing
from flowhq.cli._common import add_flow_argument, load_flow

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check`` and its options."""
    check = commands.add_parser("check", help="check a flow's structure; exit 1 on problems")
    add_flow_argument(check)
    check.add_argument(
        "--paths",
        action="store_true",
        help="print test paths covering every transition; exit 1 if some are not covered",
    )
    check.add_argument(
        "--max-depth", type=int, default=12, help="longest path (moves: messages and waits)"
    )


def run(args: argparse.Namespace, stdout: TextIO) -> int:
    """Report the flow's problems, then (``--paths``) the paths and what they miss."""
    flow = load_flow(args.flow, even_broken=True)
    problems = list(flow.__flowhq_problems__)
    if problems:
        print(f"{args.flow}: {len(problems)} problem(s)", file=stdout)
        for problem in problems:
            print(f"  - {problem}", file=stdout)
        return 1
    print(f"{args.flow}: ok ({len(flow.states_map)} states)", file=stdout)
    if not flow.name_declared:
        print(
            f"note: conversations store this flow as {flow.name!r}, from the class name; "
            f"renaming the class would restart them. Keep the id with name = {flow.name!r} "
            "in the class.",
            file=stdout,
        )
    if not args.paths:
        return 0
    plan = testing.plan(flow, max_depth=args.max_depth)
    declared = testing.declared_transitions(flow)
    missing = sorted(declared - plan.covered, key=lambda t: (t[0], t[2], str(t[1])))
    covered = len(declared) - len(missing)
    print(f"{len(plan.paths)} paths cover {covered}/{len(declared)} transitions", file=stdout)
    for number, path in enumerate(plan.paths, start=1):
        end = "final" if path.finished else "depth bound"
        print(f"path {number} ({len(path.moves)} moves, ends at {end}):", file=stdout)
        for line in path.describe():
            print(f"  {line}", file=stdout)
    for source, target, event in missing:
        print(f"not covered: {source} --{event}--> {target}", file=stdout)
    for state, kind in plan.no_examples.items():
        print(
            f"no examples: state {state!r} ({kind}) gives no example inputs, so its results "
            "cannot be generated; implement examples() (docs/components.md)",
            file=stdout,
        )
    return 1 if missing else 0

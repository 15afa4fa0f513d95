"""``flowhq check``: a flow's problems (exit 1), and with ``--paths`` generated test paths.

The paths cover timer transitions too: a move such as ``wait 23h (day.timeout)`` lets time
pass until a timeout or a ``Wait`` ends the question (docs/testing.md). ``--channel
whatsapp`` adds the checks the WhatsApp messenger runs when the app starts (a flow that
passes starts); ``--locales DIR`` checks the translations of the flow's texts
(docs/i18n.md).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from flowhq import FlowError, testing
from flowhq.cli._common import CliError, add_flow_argument, load_flow

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
    check.add_argument(
        "--channel",
        choices=["whatsapp"],
        help="also check what the channel's messenger checks at start-up (texts, options)",
    )
    check.add_argument(
        "--locales",
        metavar="DIR",
        help="check the translations in DIR/<locale>/LC_MESSAGES/<domain>.mo|.po: "
        "placeholders kept, WhatsApp's length limits",
    )
    check.add_argument("--domain", default="messages", help="the catalogs' gettext domain")


def _whatsapp() -> Any:
    try:
        from flowhq.channels.whatsapp import outbound  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        raise CliError(f"--channel whatsapp needs pip install 'flowhq[whatsapp]' ({exc})") from None
    return outbound


def _channel_problems(flow: Any, args: argparse.Namespace) -> list[str]:
    """What the channel's messenger refuses at start-up, and the translations' problems."""
    problems: list[str] = []
    if args.channel == "whatsapp":
        problems += _whatsapp().check_flow(flow)
    if args.locales:
        from flowhq.i18n import Translations  # noqa: PLC0415 - only this option needs it
        from flowhq.i18n.checks import check_translations  # noqa: PLC0415

        try:
            translations = Translations.load(args.locales, domain=args.domain)
        except FlowError as exc:
            raise CliError(str(exc)) from None
        if not translations.locales:
            raise CliError(f"no {args.domain}.mo or .po under {args.locales}/*/LC_MESSAGES")
        outbound = _whatsapp()
        limits = {
            "button": outbound.BUTTON_TITLE_LIMIT,
            "row": outbound.ROW_TITLE_LIMIT,
            "description": outbound.DESCRIPTION_LIMIT,
            "menu": outbound.MENU_LABEL_LIMIT,
            "body": outbound.BODY_LIMIT,
            "text": outbound.TEXT_LIMIT,
        }
        found = check_translations(
            [flow],
            translations,
            limits=limits,
            measure=outbound.utf16_length,
            unit="UTF-16 units (characters beyond U+FFFF, like most emoji, count as 2)",
        )
        problems += [f"translation {p}" for p in found]
    return problems


def run(args: argparse.Namespace, stdout: TextIO) -> int:
    """Report the flow's problems, then (``--paths``) the paths and what they miss."""
    flow = load_flow(args.flow, even_broken=True)
    problems = list(flow.__flowhq_problems__)
    if not problems:
        problems += _channel_problems(flow, args)
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

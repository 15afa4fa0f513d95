"""The ``flowhq`` command: chat with a flow, check it, draw it, inspect conversations.

One module per subcommand; :func:`main` takes ``argv`` so tests call it directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from flowhq.cli import chat, check, dev, diagram, inbox, state
from flowhq.cli._common import CliError
from flowhq.errors import FlowError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``flowhq``."""
    parser = argparse.ArgumentParser(prog="flowhq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (chat, dev, inbox, diagram, state, check):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[], int]] = {
        "chat": lambda: chat.run(args, sys.stdin, sys.stdout),
        "check": lambda: check.run(args, sys.stdout),
        "dev": lambda: dev.run(args, sys.stdout),
        "diagram": lambda: diagram.run(args, sys.stdout, sys.stderr),
        "inbox": lambda: inbox.run(args, sys.stdout),
        "state": lambda: state.run(args, sys.stdin, sys.stdout),
    }
    try:
        return commands[args.command]()
    except (CliError, FlowError) as exc:
        print(f"flowhq: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`flowhq state show ... | head`): stop quietly. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0

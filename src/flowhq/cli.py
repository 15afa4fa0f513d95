"""The ``flowhq`` command: chat with a flow, check it, draw it, inspect conversations."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from flowhq import (
    ConsoleMessenger,
    ConversationKey,
    Flow,
    FlowDefinitionError,
    FlowError,
    Headquarters,
    InboundMessage,
    MemoryStore,
    RedisStore,
    Store,
    check_flow,
    diagrams,
    testing,
)
from flowhq.persistence import JsonCodec
from flowhq.state import ConversationDocument

__all__ = ["load_object", "main"]

CHAT_CHANNEL = "console"


class CliError(Exception):
    """A usage problem reported as one line on stderr with exit code 2."""


def load_object(target: str) -> Any:
    """Load ``module:attr`` or ``path/to/file.py:attr``.

    Raises:
        CliError: when the target cannot be found.
    """
    location, sep, attr = target.rpartition(":")
    if not sep or not location or not attr:
        raise CliError(f"expected MODULE:NAME or FILE.py:NAME, got {target!r}")
    if location.endswith(".py") or "/" in location:
        path = Path(location)
        if not path.is_file():
            raise CliError(f"no such file: {location}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise CliError(f"cannot load {location}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            raise CliError(f"cannot import {location!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CliError(f"{location} has no attribute {attr!r}") from None


def _load_flow(target: str) -> type[Flow]:
    flow = load_object(target)
    if not (isinstance(flow, type) and issubclass(flow, Flow)):
        raise CliError(f"{target} is not a Flow subclass")
    return flow


def _api_client(args: argparse.Namespace) -> httpx.AsyncClient | None:
    if args.api:
        return httpx.AsyncClient(base_url=args.api)
    if args.asgi:
        app = load_object(args.asgi)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")
    return None


def _store(args: argparse.Namespace) -> Store:
    if args.redis:
        return RedisStore.from_url(args.redis, cluster=args.cluster)
    return MemoryStore()


async def _chat(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    flow = _load_flow(args.flow)
    interactive = stdin.isatty()

    def write(text: str) -> None:
        print(text, file=stdout, flush=True)

    store = _store(args)
    api = _api_client(args)
    hq = Headquarters(flows=[flow], store=store, messenger=ConsoleMessenger(write), api=api)
    key = ConversationKey(CHAT_CHANNEL, args.identifier)
    try:
        if isinstance(store, RedisStore):
            await store.check_durability()
        stored = (await store.load(key)).document
        outcome = None
        if stored is not None and stored.current.path == flow.name:
            waiting = stored.current.component or "-"
            write(f"(continuing the stored conversation, waiting at {waiting})")
        else:
            outcome = await hq.start(CHAT_CHANNEL, args.identifier)
        session = uuid.uuid4().hex[:8]
        count = 0
        while outcome is None or not outcome.finished:
            if interactive:
                print("you> ", end="", file=stdout, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not interactive:
                write(f"you> {text}")
            count += 1
            outcome = await hq.handle(
                InboundMessage(CHAT_CHANNEL, args.identifier, f"{session}-{count}", text)
            )
        if outcome is not None and outcome.finished:
            write("(conversation finished)")
    finally:
        if api is not None:
            await api.aclose()
        await store.close()
    return 0


def _redacted(document: ConversationDocument) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(JsonCodec().encode(document))
    if data.get("auth", {}).get("token") is not None:
        data["auth"]["token"] = "***"  # noqa: S105 - the redaction marker, not a secret
    return data


async def _state(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    key = ConversationKey.parse(args.conversation)
    store = RedisStore.from_url(args.redis, cluster=args.cluster)
    try:
        loaded = await store.load(key)
        if loaded.document is None:
            print(f"no conversation {key}", file=stdout)
            return 1
        if args.action == "show":
            shown = {
                "key": store.keys.key(key),
                "revision": loaded.revision,
                "delivered": sorted(loaded.delivered),
                "document": _redacted(loaded.document),
            }
            print(json.dumps(shown, indent=2, ensure_ascii=False), file=stdout)
            return 0
        if not args.yes:
            print(
                f"Delete conversation {key} (revision {loaded.revision})? [y/N] ",
                end="",
                file=stdout,
                flush=True,
            )
            if stdin.readline().strip().lower() not in ("y", "yes"):
                print("kept", file=stdout)
                return 1
        await store.delete(key)
        print(f"deleted {key}", file=stdout)
        return 0
    finally:
        await store.close()


async def _active(args: argparse.Namespace) -> ConversationDocument | None:
    if args.conversation is None:
        return None
    if not args.redis:
        raise CliError("--conversation needs --redis URL")
    key = ConversationKey.parse(args.conversation)
    store = RedisStore.from_url(args.redis, cluster=args.cluster)
    try:
        document = (await store.load(key)).document
    finally:
        await store.close()
    if document is None:
        raise CliError(f"no conversation {key}")
    return document


def _diagram(args: argparse.Namespace, stdout: TextIO) -> int:
    flow = _load_flow(args.flow)
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


def _check(args: argparse.Namespace, stdout: TextIO) -> int:
    try:
        flow = _load_flow(args.flow)
    except FlowDefinitionError as exc:
        print(f"{args.flow}: {len(exc.problems)} problem(s)", file=stdout)
        for problem in exc.problems:
            print(f"  - {problem}", file=stdout)
        return 1
    problems = check_flow(flow)
    if problems:
        print(f"{args.flow}: {len(problems)} problem(s)", file=stdout)
        for problem in problems:
            print(f"  - {problem}", file=stdout)
        return 1
    print(f"{args.flow}: ok ({len(flow.states_map)} states)", file=stdout)
    if args.paths:
        generated = testing.plan(flow, max_depth=args.max_depth)
        declared = testing.declared_transitions(flow)
        covered = len(generated.covered & declared)
        print(
            f"{len(generated.paths)} paths cover {covered}/{len(declared)} transitions",
            file=stdout,
        )
        for number, path in enumerate(generated.paths, start=1):
            end = "final" if path.finished else "depth bound"
            print(f"path {number} ({len(path.moves)} messages, ends at {end}):", file=stdout)
            for line in path.describe():
                print(f"  {line}", file=stdout)
        for source, target, event in sorted(generated.unreached, key=str):
            print(f"unreached: {source} --{event}--> {target}", file=stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``flowhq``."""
    parser = argparse.ArgumentParser(prog="flowhq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="talk to a flow in the terminal (reads piped stdin)")
    chat.add_argument("flow", help="MODULE:FlowClass or path/to/file.py:FlowClass")
    chat.add_argument("--api", metavar="URL", help="base URL of the API that ApiCall uses")
    chat.add_argument("--asgi", metavar="MODULE:APP", help="serve ApiCall from an ASGI app")
    chat.add_argument("--identifier", default="local", help="the user id (default: local)")
    chat.add_argument(
        "--redis", metavar="URL", help="keep the conversation in Redis (continued on restart)"
    )
    chat.add_argument("--cluster", action="store_true", help="the Redis URL is a cluster node")

    diagram = commands.add_parser("diagram", help="draw a flow (Mermaid, DOT, SVG, PNG)")
    diagram.add_argument("flow", help="MODULE:FlowClass or path/to/file.py:FlowClass")
    diagram.add_argument(
        "-f", "--format", choices=["mermaid", "dot", "svg", "png"], default="mermaid"
    )
    diagram.add_argument("-o", "--output", metavar="FILE", help="write here (svg/png need it)")
    diagram.add_argument(
        "--conversation", metavar="CHANNEL:IDENTIFIER", help="highlight where it stands"
    )
    diagram.add_argument("--redis", metavar="URL", help="the Redis holding the conversation")
    diagram.add_argument("--cluster", action="store_true", help="the Redis URL is a cluster node")

    state = commands.add_parser("state", help="inspect or delete a stored conversation")
    state.add_argument("action", choices=["show", "reset"])
    state.add_argument("conversation", metavar="CHANNEL:IDENTIFIER")
    state.add_argument("--redis", metavar="URL", required=True, help="the Redis holding it")
    state.add_argument("--cluster", action="store_true", help="the Redis URL is a cluster node")
    state.add_argument("--yes", action="store_true", help="reset without asking")

    check = commands.add_parser("check", help="check a flow's structure; exit 1 on problems")
    check.add_argument("flow", help="MODULE:FlowClass or path/to/file.py:FlowClass")
    check.add_argument(
        "--paths", action="store_true", help="print test paths covering every transition"
    )
    check.add_argument("--max-depth", type=int, default=12, help="longest path (messages)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[], int]] = {
        "chat": lambda: asyncio.run(_chat(args, sys.stdin, sys.stdout)),
        "check": lambda: _check(args, sys.stdout),
        "diagram": lambda: _diagram(args, sys.stdout),
        "state": lambda: asyncio.run(_state(args, sys.stdin, sys.stdout)),
    }
    try:
        return commands[args.command]()
    except (CliError, FlowError) as exc:
        print(f"flowhq: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

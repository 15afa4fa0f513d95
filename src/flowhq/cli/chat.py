"""``flowhq chat``: talk to a flow in the terminal, or pipe a transcript through it.

Interactive use has line editing and history (readline), and Ctrl-C leaves at once: the
input is read in the main thread, outside the event loop. A conversation stored in Redis
continues where it was, with its pending question shown again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx

from flowhq import (
    ConsoleMessenger,
    ConversationKey,
    Headquarters,
    InboundMessage,
    RedisStore,
    Store,
)
from flowhq.cli._common import (
    add_api_options,
    add_flow_argument,
    add_redis_options,
    api_client,
    load_flow,
    store,
)
from flowhq.i18n import Translations
from flowhq.testing import no_api

__all__ = ["CHAT_CHANNEL", "add_parser", "run"]

CHAT_CHANNEL = "console"
HISTORY = Path.home() / ".cache" / "flowhq" / "chat_history"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``chat`` and its options."""
    chat = commands.add_parser("chat", help="talk to a flow in the terminal (reads piped stdin)")
    add_flow_argument(chat)
    add_api_options(chat)
    chat.add_argument("--identifier", default="local", help="the user id (default: local)")
    add_redis_options(chat, help="keep the conversation in Redis (continued on restart)")
    chat.add_argument("--locale", help="the user's language, e.g. es or pt_BR (docs/i18n.md)")
    chat.add_argument(
        "--locales", metavar="DIR", help="the flow's translations (DIR/<locale>/LC_MESSAGES)"
    )


def _line_editing() -> None:
    """Turn on readline editing and a history kept across sessions (best effort)."""
    try:
        import readline  # noqa: PLC0415 - only for interactive use; missing on some systems
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return
    with contextlib.suppress(OSError):
        HISTORY.parent.mkdir(parents=True, exist_ok=True)
        readline.read_history_file(HISTORY)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(HISTORY)

    import atexit  # noqa: PLC0415

    atexit.register(save)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """Run the chat until the flow finishes or the input ends."""
    flow = load_flow(args.flow)
    interactive = stdin.isatty()
    if interactive:
        _line_editing()

    def write(text: str) -> None:
        print(text, file=stdout, flush=True)

    translations = Translations.load(args.locales) if args.locales else None
    locale = args.locale
    chosen = store(args)
    api = api_client(args)
    hq = Headquarters(
        flows=[flow],
        store=chosen,
        messenger=ConsoleMessenger(write),
        api=api or no_api(),
        translations=translations,
        locale_of=(lambda key: locale) if locale else None,
    )
    session = uuid.uuid4().hex[:8]
    with asyncio.Runner() as runner:
        try:
            finished = runner.run(_begin(hq, args.identifier, flow.name, write))
            count = 0
            while not finished:
                if interactive:
                    try:
                        text = input("you> ")
                    except EOFError:
                        break
                else:
                    line = stdin.readline()
                    if not line:
                        break
                    text = line.rstrip("\n")
                    write(f"you> {text}")
                count += 1
                inbound = InboundMessage(CHAT_CHANNEL, args.identifier, f"{session}-{count}", text)
                finished = runner.run(hq.handle(inbound)).finished
            if finished:
                write("(conversation finished)")
        finally:
            runner.run(_close(chosen, api))
    return 0


async def _begin(
    hq: Headquarters, identifier: str, flow: str, write: Callable[[str], None]
) -> bool:
    """Continue a stored conversation (showing its pending question) or start the flow."""
    if isinstance(hq.store, RedisStore):
        await hq.store.check_durability()
    stored = (await hq.store.load(ConversationKey(CHAT_CHANNEL, identifier))).document
    if stored is not None and stored.current.path == flow:
        write("(continuing the stored conversation)")
        for message in await hq.pending(CHAT_CHANNEL, identifier):
            write("bot> " + message.plain_text())
        return False
    outcome = await hq.start(CHAT_CHANNEL, identifier, replace=True)
    return outcome.finished


async def _close(chosen: Store, api: httpx.AsyncClient | None) -> None:
    if api is not None:
        await api.aclose()
    await chosen.close()

"""``flowhq inbox``: the operator page, where people answer conversations the bot handed over.

Needs ``pip install 'flowhq[console]'`` (Starlette and uvicorn). See docs/operator-page.md.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from flowhq.cli._common import (
    CliError,
    add_api_options,
    add_redis_options,
    api_client,
    load_flow,
    redis_store,
)
from flowhq.cli.dev import PageAccess, add_page_options, is_local
from flowhq.persistence.redis import RedisStore

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from flowhq.messaging.messenger import Messenger

__all__ = [
    "ACCESS_TOKEN",
    "GRAPH_URL",
    "PHONE_NUMBER_ID",
    "TOKEN_KEYS",
    "add_parser",
    "build",
    "run",
]

TOKEN_VARIABLE = "FLOWHQ_INBOX_TOKEN"  # noqa: S105 - the variable's name, not a token
ACCESS_TOKEN = "WHATSAPP_TOKEN"  # noqa: S105 - the variable's name, not a token
PHONE_NUMBER_ID = "WHATSAPP_PHONE_NUMBER_ID"
GRAPH_URL = "WHATSAPP_GRAPH_URL"

SENT_BY_WORKERS = (
    f"agent replies are committed to the outbox and sent by the bot's own workers (their "
    f"redelivery, or the conversation's next message); set {ACCESS_TOKEN} and "
    f"{PHONE_NUMBER_ID} to send them from here"
)
SENT_HERE = "agent replies are sent through the WhatsApp Cloud API from here, after each commit"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``inbox`` and its options."""
    inbox = commands.add_parser(
        "inbox", help="operator page: answer paused conversations, pause, resume"
    )
    inbox.add_argument("flows", nargs="+", metavar="MODULE:Flow", help="the bot's flows")
    add_redis_options(inbox, help="the bot's Redis", required=True)
    add_api_options(inbox)
    inbox.add_argument(
        "--ttl",
        type=int,
        metavar="SECONDS",
        help="the bot's Headquarters(ttl=...): conversations the page writes keep it "
        "(default: none, they are kept without expiry)",
    )
    inbox.add_argument(
        "--transcript",
        type=int,
        default=50,
        metavar="N",
        help="the bot's Headquarters(transcript=...) (default 50)",
    )
    add_page_options(inbox, port=8766, served_as="the page", token_variable=TOKEN_VARIABLE)


def build(
    args: argparse.Namespace, stdout: TextIO, *, env: Mapping[str, str] = os.environ
) -> Starlette:
    """The page's app, after printing its address and how replies leave."""
    try:
        from flowhq.dev.operator import inbox_app  # noqa: PLC0415
        from flowhq.headquarters import Headquarters  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(f"the inbox needs pip install 'flowhq[console]' ({exc})") from None
    flows = [load_flow(target) for target in args.flows]
    page = PageAccess.of(args, redis_is_local=is_local(args.redis))
    messenger, delivery, notice = _messenger(env)
    store = _store(args, env)
    hq = Headquarters(
        flows=flows,
        store=store,
        messenger=messenger,
        api=api_client(args),
        ttl=args.ttl,
        transcript=args.transcript,
    )
    app = inbox_app(hq, access=page.access, delivery=delivery, notice=notice)
    page.announce("flowhq inbox", args, flows, stdout)
    print(f"replies: {notice}", file=stdout)
    if args.ttl is None:
        print("(no --ttl: the conversations the page writes are kept without expiry; give the "
              "bot's ttl)", file=stdout)  # fmt: skip
    stdout.flush()
    return app


TOKEN_KEYS = "FLOWHQ_TOKEN_KEYS"  # noqa: S105 - the variable's name, not a key
"""The bot's token keys, comma-separated, newest first (as given to ``RedisStore``)."""


def _store(args: argparse.Namespace, env: Mapping[str, str]) -> RedisStore:
    """The bot's store, with its token keys when ``FLOWHQ_TOKEN_KEYS`` gives them.

    With the keys a resume's ``ApiCall`` sends the real token; without, encrypted tokens are
    read and written back as stored.
    """
    keys = [key.strip() for key in env.get(TOKEN_KEYS, "").split(",") if key.strip()]
    if keys:
        return RedisStore.from_url(args.redis, cluster=args.cluster, token_keys=keys)
    return redis_store(args.redis, cluster=args.cluster, inspect=True)


def _messenger(env: Mapping[str, str]) -> tuple[Messenger, str, str]:
    """How replies leave: WhatsApp with credentials, else the bot's workers send them."""
    from flowhq.channels.whatsapp import WhatsAppMessenger  # noqa: PLC0415
    from flowhq.dev.operator import OutboxMessenger  # noqa: PLC0415

    credentials = env.get(ACCESS_TOKEN, ""), env.get(PHONE_NUMBER_ID, "")
    if any(credentials) and not all(credentials):
        raise CliError(f"set both {ACCESS_TOKEN} and {PHONE_NUMBER_ID}, or neither")
    if not all(credentials):
        return OutboxMessenger(), "outbox", SENT_BY_WORKERS
    messenger = WhatsAppMessenger(
        access_token=credentials[0],
        phone_number_id=credentials[1],
        base_url=env.get(GRAPH_URL) or "https://graph.facebook.com",
    )
    return messenger, "whatsapp", SENT_HERE


def run(args: argparse.Namespace, stdout: TextIO) -> int:
    """Serve the page until Ctrl-C."""
    app = build(args, stdout)
    import uvicorn  # noqa: PLC0415 - only the pages need it; build() checked it is there

    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()
    return 0

"""``flowhq dev``: the local console (WhatsApp simulator, live diagram, inspector).

Needs ``pip install 'flowhq[console]'`` (Starlette and uvicorn).
"""

from __future__ import annotations

import argparse
import os
import secrets
from typing import TextIO
from urllib.parse import urlparse

import attrs
import httpx

from flowhq.cli._common import (
    CliError,
    add_api_options,
    add_redis_options,
    api_client,
    load_flow,
    redis_store,
)
from flowhq.components import ApiCall
from flowhq.dev.access import WILDCARDS, Access, host_name, is_loopback, needs_token
from flowhq.errors import FlowError
from flowhq.i18n import Translations
from flowhq.statecharts import Flow
from flowhq.statecharts.model import all_states
from flowhq.testing.conversation import no_api

__all__ = [
    "PageAccess",
    "add_page_options",
    "add_parser",
    "address",
    "api_or_forced",
    "check_channel",
    "is_local",
    "run",
]

TOKEN_VARIABLE = "FLOWHQ_DEV_TOKEN"  # noqa: S105 - the variable's name, not a token


def add_page_options(
    parser: argparse.ArgumentParser, *, port: int, served_as: str, token_variable: str
) -> None:
    """``--host``, ``--port``, ``--allowed-host`` and ``--token`` of a page flowhq serves."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (beyond loopback, the page needs the token)",
    )
    parser.add_argument("--port", type=int, default=port, help="port to listen on")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help=f"another name {served_as} is served as (repeatable; others are refused)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(token_variable) or None,  # set but empty: not given
        help=f"access token the page must carry (default: ${token_variable}; generated when "
        "listening beyond loopback or reading a non-local Redis)",
    )


@attrs.frozen
class PageAccess:
    """Who may open a page: its access rules and the token, generated when one is needed."""

    access: Access
    token: str | None
    generated: bool
    redis_is_local: bool

    @classmethod
    def of(cls, args: argparse.Namespace, *, redis_is_local: bool) -> PageAccess:
        """From ``--host``, ``--allowed-host`` and ``--token``.

        Raises:
            CliError: a host the page cannot be guarded on.
        """
        token = args.token
        generated = token is None and needs_token(args.host, redis_is_local=redis_is_local)
        if generated:
            token = secrets.token_urlsafe(24)
        try:
            access = Access.serving(args.host, allowed_hosts=args.allowed_host, token=token)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        return cls(access, token, generated, redis_is_local)

    def announce(
        self, command: str, args: argparse.Namespace, flows: list[type[Flow]], stdout: TextIO
    ) -> None:
        """Print the page's address; a generated token appears there, once, and nowhere else.

        A given token is not echoed (the user has it); uvicorn's access log, which would
        show ``?token=``, is off.
        """
        token = f"?token={self.token}" if self.generated else ""
        page = address(args.host, args.port) + token
        print(f"{command}: {page}  ({', '.join(f.name for f in flows)}; Ctrl-C stops)", file=stdout)
        if self.generated:
            why = f"listening on {args.host}" if self.redis_is_local else "a non-local Redis"
            print(f"({why}: the page needs the token above, shown only here)", file=stdout)
        if self.access.any_address:
            print("(every interface: open it by this machine's address or name)", file=stdout)
        if self.token and not self.generated:
            print("(the page needs your token: add ?token=TOKEN to the address)", file=stdout)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dev`` and its options."""
    dev = commands.add_parser(
        "dev", help="local console: WhatsApp simulator, live statechart, inspector"
    )
    dev.add_argument("flows", nargs="+", metavar="MODULE:Flow", help="the flows (first: entry)")
    add_api_options(dev)
    add_redis_options(dev, help="inspect the conversations in this Redis")
    add_page_options(dev, port=8765, served_as="the console", token_variable=TOKEN_VARIABLE)
    dev.add_argument(
        "--allow-reset", action="store_true", help="let the inspector delete conversations"
    )
    dev.add_argument("--no-reload", action="store_true", help="do not reload edited flows")
    dev.add_argument(
        "--locales",
        metavar="DIR",
        help="the flows' translations (DIR/<locale>/LC_MESSAGES/messages.mo|.po); the page "
        "switches a simulated user's language",
    )


def is_local(url: str) -> bool:
    """Whether a Redis URL points at this machine (a unix socket or a loopback name)."""
    parsed = urlparse(url)
    return parsed.scheme == "unix" or is_loopback(parsed.hostname or "localhost")


def address(host: str, port: int) -> str:
    """The page's address for a console listening on ``host`` (loopback for a wildcard)."""
    name = host_name(host) or host
    if name in WILDCARDS:
        name = "127.0.0.1"
    return f"http://[{name}]:{port}/" if ":" in name else f"http://{name}:{port}/"


def check_channel(flows: list[type[Flow]]) -> None:
    """Refuse, in one line, flows the console's WhatsApp messenger would refuse to start.

    Raises:
        CliError: naming every problem (``flowhq check --channel whatsapp`` lists them too).
    """
    from flowhq.channels.whatsapp.outbound import check_flow  # noqa: PLC0415 - console extra

    problems = [problem for flow in flows for problem in check_flow(flow)]
    if problems:
        raise CliError("WhatsApp cannot show these flows as written: " + "; ".join(problems))


def api_or_forced(
    args: argparse.Namespace, flows: list[type[Flow]], stdout: TextIO
) -> httpx.AsyncClient | None:
    """The API client for ``ApiCall`` states; without ``--api``/``--asgi``, one that fails.

    The console then runs such a flow all the same: a call finishes ``error`` unless a
    result is forced in the page, and the console says so once.
    """
    client = api_client(args)
    calls = [
        f"{flow.__name__}.{state.id}"
        for flow in flows
        for state in all_states(flow)
        if isinstance(state, ApiCall)
    ]
    if client is not None or not calls:
        return client
    print(
        f"note: no --api or --asgi: {', '.join(calls)} call no API; each finishes 'error' "
        "unless you force its result in the page",
        file=stdout,
    )
    return no_api()


def run(args: argparse.Namespace, stdout: TextIO) -> int:
    """Serve the console until Ctrl-C."""
    try:
        import uvicorn  # noqa: PLC0415 - only the console needs it

        from flowhq.dev.app import FlowSource, console_app  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(f"the console needs pip install 'flowhq[console]' ({exc})") from None
    flows = [load_flow(target) for target in args.flows]
    check_channel(flows)
    api = api_or_forced(args, flows, stdout)
    translations = None
    if getattr(args, "locales", None):
        try:
            translations = Translations.load(args.locales)
        except FlowError as exc:
            raise CliError(str(exc)) from None
    page = PageAccess.of(args, redis_is_local=not args.redis or is_local(args.redis))
    inspect = redis_store(args.redis, cluster=args.cluster, inspect=True) if args.redis else None
    app = console_app(
        FlowSource.of(flows),
        flows,
        api=api,
        inspect_store=inspect,
        allow_reset=args.allow_reset,
        access=page.access,
        reload_every=0 if args.no_reload else 1.0,
        translations=translations,
    )
    page.announce("flowhq dev", args, flows, stdout)
    stdout.flush()
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()
    return 0

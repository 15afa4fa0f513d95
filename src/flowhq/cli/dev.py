"""``flowhq dev``: the local console (WhatsApp simulator, live diagram, inspector).

Needs ``pip install 'flowhq[console]'`` (Starlette and uvicorn).
"""

from __future__ import annotations

import argparse
import secrets
from typing import TextIO
from urllib.parse import urlparse

from flowhq.cli._common import (
    CliError,
    add_api_options,
    add_redis_options,
    api_client,
    load_flow,
    redis_store,
)

__all__ = ["add_parser", "is_local", "run"]

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", ""})


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dev`` and its options."""
    dev = commands.add_parser(
        "dev", help="local console: WhatsApp simulator, live statechart, inspector"
    )
    dev.add_argument("flows", nargs="+", metavar="MODULE:Flow", help="the flows (first: entry)")
    add_api_options(dev)
    add_redis_options(dev, help="inspect the conversations in this Redis")
    dev.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dev.add_argument("--port", type=int, default=8765, help="port to listen on")
    dev.add_argument(
        "--allow-reset", action="store_true", help="let the inspector delete conversations"
    )
    dev.add_argument(
        "--token", help="access token the page must carry (generated for a non-local Redis)"
    )
    dev.add_argument("--no-reload", action="store_true", help="do not reload edited flows")


def is_local(url: str) -> bool:
    """Whether a Redis URL points at this machine (a unix socket or a loopback name)."""
    parsed = urlparse(url)
    return parsed.scheme == "unix" or (parsed.hostname or "") in LOCAL_HOSTS


def run(args: argparse.Namespace, stdout: TextIO) -> int:
    """Serve the console until Ctrl-C."""
    try:
        import uvicorn  # noqa: PLC0415 - only the console needs it

        from flowhq.dev.app import FlowSource, console_app  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(f"the console needs pip install 'flowhq[console]' ({exc})") from None
    flows = [load_flow(target) for target in args.flows]
    token = args.token
    if args.redis and not is_local(args.redis) and token is None:
        token = secrets.token_urlsafe(18)
    inspect = redis_store(args.redis, cluster=args.cluster, inspect=True) if args.redis else None
    app = console_app(
        FlowSource.of(flows),
        flows,
        api=api_client(args),
        inspect_store=inspect,
        allow_reset=args.allow_reset,
        token=token,
        reload_every=0 if args.no_reload else 1.0,
    )
    address = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"flowhq dev: {address}  ({', '.join(f.name for f in flows)}; Ctrl-C stops)", file=stdout)
    if token and not args.token:
        print("(a non-local Redis: the page needs the token above)", file=stdout)
    stdout.flush()
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    uvicorn.Server(config).run()
    return 0

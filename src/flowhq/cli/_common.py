"""What the ``flowhq`` subcommands share: loading targets, stores, API clients, errors."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import httpx

from flowhq import Flow, MemoryStore, RedisStore, Store
from flowhq._modules import from_file
from flowhq.persistence import JsonCodec
from flowhq.statecharts.flow import checks_deferred

__all__ = ["CliError", "api_client", "load_flow", "load_object", "redis_store", "store"]


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
        try:
            module = from_file(path)
        except ImportError as exc:
            raise CliError(str(exc)) from None
    else:
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            raise CliError(f"cannot import {location!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CliError(f"{location} has no attribute {attr!r}") from None


def load_flow(target: str, *, even_broken: bool = False) -> type[Flow]:
    """Load a flow class; with ``even_broken``, one whose checks fail loads too.

    A broken flow keeps its problems in ``__flowhq_problems__`` (for ``check`` and
    ``diagram``, which report or draw them instead of refusing).
    """
    if even_broken:
        with checks_deferred():
            flow = load_object(target)
    else:
        flow = load_object(target)
    if not (isinstance(flow, type) and issubclass(flow, Flow)):
        raise CliError(f"{target} is not a Flow subclass")
    return flow


FLOW_HELP = "MODULE:FlowClass or path/to/file.py:FlowClass"


def add_flow_argument(parser: argparse.ArgumentParser) -> None:
    """The ``flow`` positional (read by :func:`load_flow`)."""
    parser.add_argument("flow", help=FLOW_HELP)


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """``--api`` and ``--asgi`` (read by :func:`api_client`)."""
    parser.add_argument("--api", metavar="URL", help="base URL of the API that ApiCall uses")
    parser.add_argument("--asgi", metavar="MODULE:APP", help="serve ApiCall from an ASGI app")


def add_redis_options(
    parser: argparse.ArgumentParser, *, help: str, required: bool = False
) -> None:
    """``--redis`` and ``--cluster`` (read by :func:`store`)."""
    parser.add_argument("--redis", metavar="URL", required=required, help=help)
    parser.add_argument("--cluster", action="store_true", help="the Redis URL is a cluster node")


def api_client(args: argparse.Namespace) -> httpx.AsyncClient | None:
    """The API client ``--api URL`` or ``--asgi MODULE:APP`` asks for."""
    if getattr(args, "api", None):
        return httpx.AsyncClient(base_url=args.api)
    if getattr(args, "asgi", None):
        app = load_object(args.asgi)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")
    return None


def redis_store(url: str, *, cluster: bool = False, inspect: bool = False) -> RedisStore:
    """A RedisStore; ``inspect`` reads encrypted tokens as stored (tools never use them)."""
    store = RedisStore.from_url(url, cluster=cluster)
    if inspect:
        store.codec = JsonCodec(opaque_tokens=True)
    return store


def store(args: argparse.Namespace) -> Store:
    """``--redis URL`` (with ``--cluster``), else a MemoryStore."""
    if getattr(args, "redis", None):
        return redis_store(args.redis, cluster=args.cluster)
    return MemoryStore()

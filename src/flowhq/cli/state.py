"""``flowhq state show|reset``: inspect or delete a stored conversation.

``show`` prints the stored document with the auth token as ``***``, or why it cannot be read
(one line: loading raises nothing but ``SnapshotError`` for what is stored); ``reset`` deletes
a conversation whatever is stored at its key, including what cannot be read (that is what it
is for).

A log line names a conversation by its pseudonym, ``whatsapp:#3f6581be346420c4``
(docs/operations.md); both commands take that form too and find the conversation by hashing
the stored keys (with the same ``FLOWHQ_HASH_KEY`` as the bot).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, TextIO

from flowhq import ConversationKey, RedisStore, SnapshotError
from flowhq.cli._common import CliError, add_redis_options, redis_store
from flowhq.observability.hashing import hashed
from flowhq.persistence import JsonCodec
from flowhq.state import ConversationDocument

__all__ = ["add_parser", "redacted", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``state`` and its options."""
    state = commands.add_parser("state", help="inspect or delete a stored conversation")
    state.add_argument("action", choices=["show", "reset"])
    state.add_argument("conversation", metavar="CHANNEL:IDENTIFIER|CHANNEL:#HASH")
    add_redis_options(state, help="the Redis holding it", required=True)
    state.add_argument("--yes", action="store_true", help="reset without asking")


def redacted(document: ConversationDocument) -> dict[str, Any]:
    """The document as JSON data, with the auth token replaced by ``***``."""
    data: dict[str, Any] = json.loads(JsonCodec(opaque_tokens=True).encode(document))
    if data.get("auth", {}).get("token") is not None:
        data["auth"]["token"] = "***"  # noqa: S105 - the redaction marker, not a secret
    return data


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """Show or reset the conversation."""
    return asyncio.run(_run(args, stdin, stdout))


async def _run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    key = ConversationKey.parse(args.conversation)
    store = redis_store(args.redis, cluster=args.cluster, inspect=True)
    try:
        if key.identifier.startswith("#"):
            key = await _unhash(store, key)
        try:
            loaded = await store.load(key)
        except SnapshotError as exc:
            if args.action == "show":
                raise CliError(f"{exc}; `flowhq state reset {key}` deletes it") from None
            why = f"it cannot be read: {exc.reason}"
            return await _reset(store, key, why, ask=not args.yes, stdin=stdin, stdout=stdout)
        if loaded.document is None:
            print(f"no conversation {key}", file=stdout)
            return 1
        if args.action == "show":
            shown = {
                "key": store.keys.key(key),
                "revision": loaded.revision,
                "delivered": sorted(loaded.delivered),
                "document": redacted(loaded.document),
            }
            print(json.dumps(shown, indent=2, ensure_ascii=False), file=stdout)
            return 0
        what = f"revision {loaded.revision}"
        return await _reset(store, key, what, ask=not args.yes, stdin=stdin, stdout=stdout)
    finally:
        await store.close()


async def _unhash(store: RedisStore, pseudonym: ConversationKey) -> ConversationKey:
    """The stored conversation whose pseudonym (as logs show it) is ``pseudonym``.

    Raises:
        CliError: no stored conversation has it.
    """
    wanted = pseudonym.identifier.removeprefix("#")
    async for key in store.scan():
        if key.channel == pseudonym.channel and hashed(key) == wanted:
            return key
    raise CliError(f"no stored conversation is {pseudonym} (is FLOWHQ_HASH_KEY the bot's?)")


async def _reset(
    store: RedisStore,
    key: ConversationKey,
    what: str,
    *,
    ask: bool,
    stdin: TextIO,
    stdout: TextIO,
) -> int:
    if ask:
        print(f"Delete conversation {key} ({what})? [y/N] ", end="", file=stdout, flush=True)
        if stdin.readline().strip().lower() not in ("y", "yes"):
            print("kept", file=stdout)
            return 1
    deleted = await store.delete(key)
    print(f"deleted {key}" if deleted else f"no conversation {key}", file=stdout)
    return 0 if deleted else 1

"""The update queue: where verified updates wait between the acknowledgement and the flow.

A channel's webhook acknowledges an update as soon as it is recorded here; workers take it
from there (see docs/architecture.md). Nothing here knows a channel: an update is an
:class:`~flowhq.messaging.types.InboundMessage`.

The record is split into shards by conversation, so the messages of one user stay in order
while different users are handled in parallel.

- :class:`UpdateQueue` is the protocol a queue implements.
- :class:`MemoryQueue` (embedded use, tests): in-process queues, same ordering; an update is
  lost if the process dies before handling it.
- :class:`~flowhq.inbox.redis_streams.RedisStreamQueue` (production, beside a
  ``RedisStore``): durable and shared by every worker process.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import attrs
import orjson

from flowhq.messaging.types import InboundMessage, Location, Media

__all__ = [
    "Handler",
    "MemoryQueue",
    "UpdateQueue",
    "by_conversation",
    "decode",
    "encode",
    "encoded_or_none",
    "handle_in_order",
    "shard_of",
]

logger = logging.getLogger("flowhq.inbox")

Handler = Callable[[InboundMessage], Awaitable[bool]]
"""Handles one update; returns ``False`` to keep it for a later try (the store is down)."""


def shard_of(identifier: str, shards: int) -> int:
    """The shard of a conversation (stable across processes: CRC-32, not ``hash()``)."""
    return zlib.crc32(identifier.encode("utf-8", "surrogatepass")) % shards


def encode(message: InboundMessage) -> bytes:
    """An update as stored on the queue."""
    data = attrs.asdict(message, recurse=True)
    return orjson.dumps({key: value for key, value in data.items() if value not in (None, {})})


def encoded_or_none(message: InboundMessage) -> bytes | None:
    """An update as stored, or ``None`` (logged) when nothing could store it.

    A lone surrogate or an integer over 64 bits is valid JSON that no encoding can keep.
    """
    try:
        return encode(message)
    except TypeError as error:
        logger.error(
            "%s update %r from %r left out: it cannot be recorded (%s)",
            message.channel,
            message.message_id,
            message.identifier,
            error,
        )
        return None


def decode(raw: bytes) -> InboundMessage:
    """An update from its stored form."""
    data: dict[str, Any] = orjson.loads(raw)
    if data.get("media") is not None:
        data["media"] = Media(**data["media"])
    if data.get("location") is not None:
        data["location"] = Location(**data["location"])
    return InboundMessage(**data)


class UpdateQueue(Protocol):
    """Records updates durably and feeds them to a handler, in order per conversation."""

    async def put(self, messages: Sequence[InboundMessage]) -> None:
        """Record ``messages`` (they are durable when this returns)."""
        ...

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Feed recorded updates to ``handler`` until ``stop`` is set."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


async def handle_in_order(
    handler: Handler, messages: Sequence[InboundMessage], stop: asyncio.Event
) -> int:
    """Handle ``messages`` (one conversation's) in order; return how many were handled.

    Once ``stop`` is set the update in hand is finished and the rest left for later.
    """
    for done, message in enumerate(messages):
        if stop.is_set():
            return done
        while not await handler(message):
            if stop.is_set():
                return done
            await asyncio.sleep(1.0)  # the store is down: wait, keep the order
    return len(messages)


def by_conversation(
    entries: Sequence[tuple[Any, InboundMessage]],
) -> dict[tuple[str, str], list[tuple[Any, InboundMessage]]]:
    """Group ``(entry id, update)`` pairs by conversation, keeping their order."""
    groups: dict[tuple[str, str], list[tuple[Any, InboundMessage]]] = {}
    for entry in entries:
        message = entry[1]
        groups.setdefault((message.channel, message.identifier), []).append(entry)
    return groups


class MemoryQueue:
    """In-process queues, one task per shard; for embedded use and tests.

    Args:
        shards: How many conversations can be handled at once.
    """

    def __init__(self, *, shards: int = 8) -> None:
        self.shards = shards
        self._queues: list[asyncio.Queue[InboundMessage]] = [asyncio.Queue() for _ in range(shards)]

    def __repr__(self) -> str:
        return f"MemoryQueue(shards={self.shards})"

    async def put(self, messages: Sequence[InboundMessage]) -> None:
        """Queue ``messages`` in this process."""
        for message in messages:
            self._queues[shard_of(message.identifier, self.shards)].put_nowait(message)

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Handle queued updates until ``stop`` is set."""
        async with asyncio.TaskGroup() as group:
            for queue in self._queues:
                group.create_task(self._drain(queue, handler, stop))

    async def _drain(
        self, queue: asyncio.Queue[InboundMessage], handler: Handler, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(queue.get(), timeout=0.2)
            except TimeoutError:
                continue
            await handle_in_order(handler, [message], stop)

    async def close(self) -> None:
        """Nothing to release."""

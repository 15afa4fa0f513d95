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
import collections
import itertools
import logging
import time
import zlib
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

import attrs
import orjson

from flowhq.inbox.lanes import Handler, Lanes
from flowhq.messaging.types import InboundMessage, Location, Media

__all__ = [
    "MemoryQueue",
    "UpdateQueue",
    "decode",
    "encode",
    "encoded_or_none",
    "shard_of",
]

logger = logging.getLogger("flowhq.inbox")


def shard_of(identifier: str, shards: int) -> int:
    """The shard of a conversation (stable across processes: CRC-32, not ``hash()``)."""
    return zlib.crc32(identifier.encode("utf-8", "surrogatepass")) % shards


def encode(message: InboundMessage) -> bytes:
    """An update as stored on the queue (its trace context is stored beside it)."""
    data = attrs.asdict(message, recurse=True)
    data.pop("traceparent", None)
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
        """Record ``messages`` (they are durable when this returns).

        Raises:
            StoreUnavailableError: where they are recorded cannot be reached (the caller
                refuses the delivery, so that it comes again).
        """
        ...

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Feed recorded updates to ``handler`` until ``stop`` is set."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryQueue:
    """In-process queues, one reader per shard; for embedded use and tests.

    Each shard's updates go to one lane per conversation (in order), so a slow step holds up
    only its own user.

    Args:
        shards: Queues the updates are spread over.
        batch: Updates a shard may have in hand at once.
    """

    def __init__(self, *, shards: int = 8, batch: int = 100) -> None:
        self.shards = shards
        self.batch = batch
        self._queues: list[asyncio.Queue[InboundMessage]] = [asyncio.Queue() for _ in range(shards)]
        self._since: list[collections.deque[float]] = [collections.deque() for _ in range(shards)]

    def __repr__(self) -> str:
        return f"MemoryQueue(shards={self.shards})"

    async def put(self, messages: Sequence[InboundMessage]) -> None:
        """Queue ``messages`` in this process."""
        for message in messages:
            shard = shard_of(message.identifier, self.shards)
            self._queues[shard].put_nowait(message)
            self._since[shard].append(time.monotonic())

    async def depth(self) -> list[tuple[int, int, float]]:
        """``(shard, pending, seconds the oldest has waited)`` for each shard."""
        now = time.monotonic()
        return [
            (shard, queue.qsize(), now - since[0] if since else 0.0)
            for shard, (queue, since) in enumerate(zip(self._queues, self._since, strict=True))
        ]

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Handle queued updates until ``stop`` is set."""
        async with asyncio.TaskGroup() as group:
            for shard, queue in enumerate(self._queues):
                group.create_task(self._drain(queue, self._since[shard], handler, stop))

    async def _drain(
        self,
        queue: asyncio.Queue[InboundMessage],
        since: collections.deque[float],
        handler: Handler,
        stop: asyncio.Event,
    ) -> None:
        lanes = Lanes(handler, stop, limit=self.batch, done=_nothing_to_acknowledge)
        entries = itertools.count()
        try:
            while not stop.is_set():
                if not lanes.room:
                    await lanes.wait_for_room(seconds=0.2)
                    continue
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=0.2)
                except TimeoutError:
                    continue
                if since:  # how long updates wait, for depth()
                    since.popleft()
                lanes.add(next(entries), message)
            await lanes.drain()  # each conversation finishes the update in hand
        finally:
            lanes.cancel()

    async def close(self) -> None:
        """Nothing to release."""


async def _nothing_to_acknowledge(entry_id: Hashable) -> None:
    """An in-process update needs no acknowledgement."""

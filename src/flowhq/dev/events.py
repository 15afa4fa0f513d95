"""A small in-process event bus feeding the console's server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

__all__ = ["EventBus", "sse"]


class EventBus:
    """Fan-out of JSON-able events to every open page. Not thread-safe: one event loop."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every subscriber (a slow page drops the oldest, never blocks)."""
        for queue in self._subscribers:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue receiving every event published while the context is open."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


async def sse(bus: EventBus, stop: asyncio.Event) -> AsyncIterator[bytes]:
    """Server-sent events from ``bus`` (a comment every 15 s keeps proxies from closing)."""
    async with bus.subscribe() as queue:
        yield b": connected\n\n"
        while not stop.is_set():
            try:
                event = await asyncio.wait_for(queue.get(), timeout=15)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield b"data: " + orjson.dumps(event) + b"\n\n"

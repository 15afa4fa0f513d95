"""Group commit: calls made while a round trip is in flight go together in the next one.

A worker finishes many updates of one shard at nearly the same time (one lane per
conversation), and acknowledging each in its own round trip costs a Redis reply and a
client pipeline per update. :class:`Batched` sends the first call at once, and whatever
arrives while it is in flight in one round trip after it: no call waits for a timer, and
under load one round trip serves many (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Batched"]

Item = TypeVar("Item")


class Batched(Generic[Item]):
    """Runs ``send`` for many items at once, each caller waiting for its own batch.

    Not thread-safe: every call runs on one event loop.

    Args:
        send: Sends one batch (a Redis round trip); its exception reaches every caller of
            that batch, who may try again.
    """

    def __init__(self, send: Callable[[list[Item]], Awaitable[None]]) -> None:
        self._send = send
        self._items: list[Item] = []
        self._next: asyncio.Future[None] | None = None
        self._sending: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> None:
        """Add ``item`` to the next batch and wait until that batch is sent."""
        self._items.append(item)
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        batch = self._next
        if self._sending is None:
            self._sending = asyncio.create_task(self._send_all())
        # Shielded: a caller cancelled while it waits must not cancel the others' batch.
        await asyncio.shield(batch)

    async def _send_all(self) -> None:
        batch: asyncio.Future[None] | None = None
        try:
            while self._items:
                items, batch = self._items, self._next
                self._items, self._next = [], None
                assert batch is not None
                try:
                    await self._send(items)
                except Exception as exc:  # every caller of this batch sees it
                    batch.set_exception(exc)
                    batch.exception()  # retrieved: a caller cancelled meanwhile is not warned
                else:
                    batch.set_result(None)
        finally:
            self._sending = None
            # Cancelled (the loop is closing): nobody may wait forever for a batch.
            if batch is not None and not batch.done():
                batch.cancel()
            if self._next is not None:  # only left behind when cancelled
                self._next.cancel()
                self._items, self._next = [], None

"""Lanes: one per conversation, so a slow step holds up its own user and nobody else.

A queue's reader hands each update it takes from a shard to :class:`Lanes`; the updates of
one conversation are handled one after the other, in the order they were added, while other
conversations go on beside them. A bounded number of updates is in hand at once: the reader
waits for room before it takes more, so a burst is read as fast as it is handled, never all
at once (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence

from flowhq.messaging.types import InboundMessage

__all__ = ["Handler", "Lanes", "handle_in_order", "waiting_behind"]

logger = logging.getLogger("flowhq.inbox")

Handler = Callable[[InboundMessage], Awaitable[bool]]
"""Handles one update; returns ``False`` to keep it for a later try (the store is down)."""

Done = Callable[[Hashable], Awaitable[None]]
"""Called with an entry's id once its update is handled (a queue acknowledges it)."""

_Lane = collections.deque[tuple[Hashable, InboundMessage]]

# The lane whose task is running: set once at the start of each lane's own task, so a handler
# called from it (and only from it) sees its own conversation's lane.
_current_lane: contextvars.ContextVar[_Lane | None] = contextvars.ContextVar(
    "flowhq_current_lane", default=None
)


def waiting_behind() -> Iterator[InboundMessage]:
    """The updates of the same conversation already in hand behind the one being handled.

    Meant for a handler run by :class:`Lanes` (empty anywhere else): a worker skips the read
    receipt of a message when a later one of the same chat is about to carry it.
    """
    lane = _current_lane.get()
    if lane is None:
        return iter(())
    return (message for _, message in itertools.islice(lane, 1, None))


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


class Lanes:
    """Updates in hand, one ordered lane per conversation.

    Not thread-safe: every method runs on one event loop.

    Args:
        handler: Handles one update; ``False`` keeps it for a later try (in order).
        stop: Once set, each lane finishes the update in hand and stops.
        limit: How many updates may be in hand at once.
        done: Called with an update's entry id once it is handled.
    """

    def __init__(self, handler: Handler, stop: asyncio.Event, *, limit: int, done: Done) -> None:
        self._handler = handler
        self._stop = stop
        self._limit = limit
        self._done = done
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._held: set[Hashable] = set()
        self._freed = asyncio.Event()
        self._failed = False

    @property
    def room(self) -> int:
        """How many more updates may be added now."""
        return max(0, self._limit - len(self._held))

    def holds(self, entry_id: Hashable) -> bool:
        """Whether the update of ``entry_id`` is in hand (added and not yet done)."""
        return entry_id in self._held

    def add(self, entry_id: Hashable, message: InboundMessage) -> None:
        """Queue ``message`` behind the earlier updates of its conversation."""
        key = (message.channel, message.identifier)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = collections.deque()
        lane.append((entry_id, message))
        self._held.add(entry_id)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._run(key, lane))

    @property
    def failed(self) -> bool:
        """Whether a handler raised instead of answering (logged).

        The reader should stop: what is in hand is then read again by the next holding.
        """
        return self._failed

    async def wait_for_room(self, *, seconds: float) -> None:
        """Wait until an update is done (or ``seconds`` pass)."""
        self._freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._freed.wait(), seconds)

    async def drain(self) -> None:
        """Wait for every lane to end (after ``stop``: once each finished its update in hand)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def cancel(self) -> None:
        """Stop every lane now (the updates not done stay unacknowledged)."""
        for task in self._tasks.values():
            task.cancel()

    async def _run(self, key: tuple[str, str], lane: _Lane) -> None:
        _current_lane.set(lane)  # this task's own context: seen by its handlers only
        try:
            while lane and not self._stop.is_set():
                entry_id, message = lane[0]
                if not await handle_in_order(self._handler, [message], self._stop):
                    break  # stopped while the store was down: it stays for the next holder
                await self._done(entry_id)
                lane.popleft()
                self._held.discard(entry_id)
                self._freed.set()
        except Exception:
            logger.exception("handling update %s failed", lane[0][0] if lane else "?")
            self._failed = True
            self._freed.set()
        finally:
            # Nothing awaits between the loop's last check and here, so no update added to
            # this lane meanwhile can be left without a task.
            del self._tasks[key]
            if self._lanes.get(key) is lane:
                del self._lanes[key]
            for entry_id, _ in lane:
                self._held.discard(entry_id)

"""Timers in the console: fire what falls due, fire one now, advance the clock.

The console's ``Headquarters`` runs on a :class:`~flowhq.dev.clock.ConsoleClock`. A loop
fires the timers that fall due as that clock runs (as ``run_timers`` does in production,
through ``fire_due`` and the store's timer index); the page can also fire one timer at once
or move the clock ahead. One lock keeps those three apart, so a jump ahead is never
overtaken by the loop firing at the wrong time. See docs/dev-console.md ("Time in the
console").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import attrs

from flowhq.dev.clock import ConsoleClock
from flowhq.headquarters import Headquarters
from flowhq.messaging.key import ConversationKey
from flowhq.state.document import Timer

__all__ = ["MAX_ADVANCE", "TimeControl", "describe_timer"]

logger = logging.getLogger("flowhq.dev")

MAX_ADVANCE = 366 * 24 * 3600.0
"""The longest jump ahead the console takes at once (a year), in seconds."""
MAX_STOPS = 1000
"""Due times one jump stops at before it gives up stepping (a flow that keeps arming)."""
MAX_PASSES = 100
"""Passes of ``fire_due`` at one instant (a firing may arm a timer due at once)."""


def describe_timer(timer: Timer, now: float) -> dict[str, Any]:
    """A timer as the page shows it: its fields, and ``in`` (seconds until due, at ``now``)."""
    return {**attrs.asdict(timer), "in": timer.due - now}


class TimeControl:
    """Fires the console's timers on its clock.

    Args:
        clock: The console's clock (its Headquarters runs on it).
        interval: Seconds between the loop's passes.
    """

    def __init__(self, clock: ConsoleClock, *, interval: float = 0.25) -> None:
        self.clock = clock
        self.interval = interval
        self._lock = asyncio.Lock()

    async def run(self, hq: Headquarters, stop: asyncio.Event) -> None:
        """Fire what falls due as the clock runs, until ``stop`` is set."""
        while not stop.is_set():
            try:
                async with self._lock:
                    await self._fire_due(hq)
            except Exception:  # the loop outlives a bad firing; the next pass tries again
                logger.exception("firing due timers failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def advance(self, hq: Headquarters, seconds: float) -> int:
        """Move the clock ``seconds`` ahead, firing what falls due on the way, in order.

        The clock stops at each due time on the way and fires what is due there, as the
        time passing would have: a reminder due before a timeout is sent before it.

        Returns:
            How many timers fired (stale ones included).

        Raises:
            ValueError: ``seconds`` not above 0 or over :data:`MAX_ADVANCE`.
        """
        if not 0 < seconds <= MAX_ADVANCE:
            raise ValueError(f"advance by more than 0 s and at most a year, not {seconds!r}")
        fired = 0
        async with self._lock:
            target = self.clock.timestamp() + seconds
            for _ in range(MAX_STOPS):
                due = await self._next_due(hq)
                if due is None or due > target:
                    break
                self.clock.advance_to(due)
                count = await self._fire_due(hq)
                fired += count
                if not count:  # held by another firing: the jump below catches it up
                    break
            self.clock.advance_to(target)
            fired += await self._fire_due(hq)
        return fired

    async def fire(self, hq: Headquarters, key: ConversationKey, timer_id: str) -> list[str]:
        """Fire the conversation's timer ``timer_id`` now.

        A timer not yet due moves the clock to its due time first (the clock is shared, so
        other timers due by then are due too); then the conversation's due timers fire.

        Returns:
            The ids of the timers that fired.

        Raises:
            KeyError: the conversation has no such pending timer.
        """
        async with self._lock:
            pending = await hq.timers(key.channel, key.identifier)
            timer = next((t for t in pending if t.id == timer_id), None)
            if timer is None:
                raise KeyError(f"no pending timer {timer_id!r} in {key}")
            self.clock.advance_to(timer.due)
            outcome = await hq.fire(key.channel, key.identifier)
        return outcome.fired

    async def _fire_due(self, hq: Headquarters) -> int:
        """Fire what is due now, again while firings arm timers due at once."""
        fired = 0
        for _ in range(MAX_PASSES):
            count = await hq.fire_due()
            fired += count
            if not count:
                break
        return fired

    async def _next_due(self, hq: Headquarters) -> float | None:
        """When the soonest timer of any of the console's conversations is due."""
        soonest: float | None = None
        async for key in hq.store.scan():
            for timer in await hq.timers(key.channel, key.identifier):
                if soonest is None or timer.due < soonest:
                    soonest = timer.due
        return soonest

"""``Headquarters``' calls about time: scheduling events, timers, firing them (docs/time.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from flowhq.runtime.front import Front
from flowhq.runtime.records import Outcome
from flowhq.runtime.timekeeper import due_time, event_timer
from flowhq.state.document import Timer

__all__ = ["TimeCalls"]


class TimeCalls(Front):
    """Timers from the backend: ``schedule``, ``cancel_timer``, ``timers``, firing them."""

    async def schedule(
        self,
        channel: str,
        identifier: str,
        event: str,
        *,
        at: datetime | None = None,
        after: timedelta | float | None = None,
        timer_id: str | None = None,
    ) -> str:
        """Fire ``event`` into the conversation later, as a command would.

        Where the conversation then stands the event must be enabled; if it is not, the
        timer is stale: logged at INFO, nothing sent. Scheduling a ``timer_id`` again
        replaces the earlier timer.

        Args:
            channel: The channel type.
            identifier: The user's identifier on it.
            event: The event to fire.
            at: When (an aware ``datetime``); or
            after: how long from now (a ``timedelta`` or seconds).
            timer_id: Your id for the timer (default: a new random one).

        Returns:
            The timer's id.

        Raises:
            InputError: a malformed event or id, neither or both of ``at``/``after``.
        """
        key = self._intake.key(channel, identifier)
        timer = event_timer(event, due_time(self.clock(), at=at, after=after), timer_id)
        await self._commit(key, self._conversations.schedule(key, timer))
        return timer.id

    async def cancel_timer(self, channel: str, identifier: str, timer_id: str) -> bool:
        """Cancel a timer set by ``schedule`` or ``start(at=...)``; whether there was one."""
        key = self._intake.key(channel, identifier)
        outcome = await self._commit(key, self._conversations.cancel(key, timer_id))
        return outcome.timer is not None

    async def timers(self, channel: str, identifier: str) -> list[Timer]:
        """The conversation's pending timers, soonest first (copies; nothing is changed)."""
        loaded = await self.store.load(self._intake.key(channel, identifier))
        document = loaded.document
        return sorted(document.timers, key=lambda timer: timer.due) if document else []

    async def fire(self, channel: str, identifier: str) -> Outcome:
        """Fire this conversation's due timers now and return what that did.

        For tests and consoles that want the outcome (``fire_due`` only counts); the timer
        index catches up on its next pass.
        """
        key = self._intake.key(channel, identifier)
        return await self._commit(key, self._conversations.fire(key))

    async def fire_due(self) -> int:
        """Fire the timers due now (one pass); return how many fired.

        Any number of processes may call it at once: each timer fires once. For tests and
        cron-style callers; ``run_timers`` loops over it.
        """
        return await self._timekeeper.fire_due()

    async def run_timers(self, stop: asyncio.Event | None = None) -> None:
        """Fire due timers until ``stop`` is set (or the task is cancelled).

        Run it in every process of the bot (the WhatsApp webhook app does); they share the
        work (``TimerOptions`` sets the lease, batch and pause between passes).
        """
        await self._timekeeper.run(stop or asyncio.Event())

    async def last_inbound(self, channel: str, identifier: str) -> str | None:
        """When the user last wrote (ISO-8601 UTC), or ``None``.

        WhatsApp lets a business answer freely for 24 hours after that (the customer
        service window); later, only approved templates.
        """
        loaded = await self.store.load(self._intake.key(channel, identifier))
        return loaded.document.metadata.last_inbound_at if loaded.document else None

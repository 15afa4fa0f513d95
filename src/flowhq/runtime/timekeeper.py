"""The timekeeper: fires due timers, in any number of processes at once (docs/time.md).

The store's timer index says which conversations have a timer due. ``fire_due`` claims a
batch of them (a claim lapses after a lease, so a claimer that dies loses nothing), fires
each one's due timers as a normal step under its lock, sends the replies, and settles its
index entry. A timer leaves its document in the commit that fires it: two processes, a
retry or a crash never fire it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flowhq.errors import ConflictError, InputError, SnapshotError, StoreUnavailableError
from flowhq.observability import logs
from flowhq.observability.events import TimersDue, emit
from flowhq.persistence.store import Claim
from flowhq.runtime import timers
from flowhq.runtime.conversations import Conversations
from flowhq.runtime.delivery import Delivery
from flowhq.runtime.settings import TimerOptions
from flowhq.runtime.turn import Start
from flowhq.state.document import Timer

__all__ = ["Timekeeper", "checked_timer_id", "due_time", "event_timer", "start_timer"]

logger = logging.getLogger("flowhq.timers")


def due_time(now: datetime, *, at: datetime | None, after: timedelta | float | None) -> float:
    """Epoch seconds of ``at`` or of ``now + after`` (exactly one of them).

    Raises:
        InputError: neither or both, a naive ``at``, a negative ``after``.
    """
    if (at is None) == (after is None):
        raise InputError("give exactly one of at= (an aware datetime) and after= (a delay)")
    if at is not None:
        if at.tzinfo is None:
            raise InputError("at= must be an aware datetime (e.g. datetime(..., tzinfo=UTC))")
        return at.timestamp()
    assert after is not None
    delay = after.total_seconds() if isinstance(after, timedelta) else float(after)
    if delay < 0:
        raise InputError(f"after= must not be negative, got {after!r}")
    return now.timestamp() + delay


def checked_timer_id(given: str | None) -> str:
    """``given``, checked, or a new random id.

    Raises:
        InputError: an id that is empty, over 128 characters or not printable.
    """
    if given is None:
        return uuid.uuid4().hex
    if not isinstance(given, str) or not 0 < len(given) <= 128 or not given.isprintable():
        raise InputError(f"timer_id must be a printable string of 1-128 characters: {given!r}")
    return given


def start_timer(start: Start, due: float, given_id: str | None = None) -> Timer:
    """The timer of ``start(at=...)``: it begins ``start``'s flow when it fires."""
    details: dict[str, Any] = {"flow": start.flow, "values": dict(start.values)}
    details |= {"interrupt": start.interrupt, "replace": start.replace}
    return Timer(checked_timer_id(given_id), due, "start", "", data=details)


def event_timer(event: str, due: float, given_id: str | None) -> Timer:
    """The timer of ``schedule(...)``: it fires ``event`` as a command would.

    Raises:
        InputError: ``event`` is not an event name, or the id is malformed.
    """
    if not isinstance(event, str) or not event.replace(".", "_").isidentifier():
        raise InputError(f"event must be an event name, not {event!r}")
    return Timer(checked_timer_id(given_id), due, "event", "", event=event)


class Timekeeper:
    """Fires due timers for one Headquarters.

    Args:
        conversations: Where conversations are locked, stepped and committed.
        delivery: Sends what a firing replies.
        clock: The Headquarters' clock.
        options: Lease, batch, concurrency and interval of the passes.
    """

    def __init__(
        self,
        conversations: Conversations,
        delivery: Delivery,
        *,
        clock: Callable[[], datetime],
        options: TimerOptions,
    ) -> None:
        self.conversations = conversations
        self.delivery = delivery
        self.store = conversations.store
        self.clock = clock
        self.lease = options.lease
        self.batch = options.batch
        self.interval = options.interval
        self._slots = asyncio.Semaphore(options.concurrency)

    async def fire_due(self) -> int:
        """Fire what is due now in one pass; return how many timers fired (stale included)."""
        now = self.clock().timestamp()
        claims = await self.store.claim_due(now, limit=self.batch, lease=self.lease)
        if self.conversations.observers:
            emit(self.conversations.observers, TimersDue(len(claims)))
        if not claims:
            return 0
        counts = await asyncio.gather(*(self._settle_logged(claim) for claim in claims))
        return sum(counts)

    async def _settle_logged(self, claim: Claim) -> int:
        """``_settle``, its log records naming the conversation (docs/operations.md)."""
        with logs.conversation(claim.key):
            return await self._settle(claim)

    async def _settle(self, claim: Claim) -> int:
        """Fire one claimed conversation's due timers and settle its index entry."""
        key = claim.key
        async with self._slots:
            try:
                async with self.conversations.lock(key):
                    done = await self.conversations.fire(key)
                    document = (done.committed or done.loaded).document
                    if done.committed is not None:
                        await self.delivery.after_commit(key, done.committed)
                if done.outcome.replies and self.delivery.messenger is None:
                    logger.warning(
                        "%d replies of timers in %s were not sent: the Headquarters has no "
                        "messenger",
                        len(done.outcome.replies),
                        key,
                    )
                await self.store.release_due(claim, timers.earliest(document))
            except SnapshotError as exc:  # it cannot fire: do not claim it forever
                logger.error("timers of %s dropped: %s", key, exc.reason)
                with contextlib.suppress(StoreUnavailableError):
                    await self.store.release_due(claim, None)
                return 0
            except (StoreUnavailableError, ConflictError) as exc:
                logger.warning("timers of %s wait for the lease to lapse: %s", key, exc)
                return 0
            return len(done.outcome.fired)

    async def run(self, stop: asyncio.Event) -> None:
        """Fire due timers until ``stop`` is set; a store outage is waited out, logged once."""
        reachable = True
        while not stop.is_set():
            fired = 0
            try:
                fired = await self.fire_due()
            except StoreUnavailableError as exc:
                if reachable:
                    logger.warning("timers wait: the store is unreachable (%s)", exc)
                reachable = False
            else:
                if not reachable:
                    logger.warning("timers go on: the store is back")
                reachable = True
            if fired >= self.batch:
                continue  # a backlog: take the next batch at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

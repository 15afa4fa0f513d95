"""The console's time: real time, plus whatever the developer skipped ahead.

The console's ``Headquarters`` runs on this clock, so the timers of its flows (timeouts,
reminders, waits) fire when the console's time reaches them. Left alone it keeps step with
real time, started at the real current time, so a flow behaves as it would in production;
"advance the clock" moves it forward at once. It never goes back. See docs/dev-console.md
("Time in the console").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flowhq.testing.clock import ManualClock

__all__ = ["ConsoleClock"]


class ConsoleClock:
    """A ``Headquarters(clock=...)`` that follows real time and can jump ahead.

    A :class:`~flowhq.testing.ManualClock` started at the real current time, moved forward
    by the real time elapsed each time it is read, and by :meth:`advance`. Not thread-safe:
    the console reads it from one event loop.

    Args:
        start: The time it starts at (default: now, UTC).
        elapsed: Monotonic seconds, to measure the real time that passes (for tests).
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        elapsed: Callable[[], float] = time.monotonic,
    ) -> None:
        self.manual = ManualClock(start or datetime.now(UTC))
        self._elapsed = elapsed
        self._read_at = elapsed()
        self.ahead = 0.0
        """Seconds this clock was moved ahead of real time by :meth:`advance`."""

    def __call__(self) -> datetime:
        """The console's current time (an aware UTC datetime)."""
        now = self._elapsed()
        self.manual.advance(max(0.0, now - self._read_at))  # monotonic: never negative
        self._read_at = now
        return self.manual()

    def __repr__(self) -> str:
        return f"ConsoleClock({self().isoformat()}, ahead={self.ahead:g}s)"

    def timestamp(self) -> float:
        """The console's current time in epoch seconds."""
        return self().timestamp()

    def advance(self, delta: timedelta | float) -> datetime:
        """Jump ``delta`` (a ``timedelta`` or seconds) ahead; return the new time.

        Raises:
            ValueError: a negative ``delta``: the console's time does not go back.
        """
        step = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self.manual.advance(step)  # refuses a negative step before anything changed
        self.ahead += step
        return self()

    def advance_to(self, when: float) -> datetime:
        """Jump ahead to ``when`` (epoch seconds); nothing when that is not in the future."""
        gap = when - self.timestamp()
        return self.advance(gap) if gap > 0 else self()

"""``ManualClock``: a clock that moves only when a test moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock"]


class ManualClock:
    """A ``Headquarters(clock=...)`` for tests: it stands still until :meth:`advance`.

    Args:
        start: The time it starts at (an aware datetime; default 2030-01-01 09:00 UTC).

    Example::

        clock = ManualClock()
        hq = Headquarters(flows=[Booking], store=MemoryStore(), clock=clock)
        clock.advance(timedelta(hours=23))
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        """The current time of this clock."""
        return self.now

    def __repr__(self) -> str:
        return f"ManualClock({self.now.isoformat()})"

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (a ``timedelta`` or seconds); return the new time.

        Raises:
            ValueError: a negative ``delta``: time does not go back.
        """
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go back ({delta!r})")
        self.now += step
        return self.now

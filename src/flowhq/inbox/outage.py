"""``OutageLog``: a store outage in the log as one line when it starts and one when it ends.

During an outage every POST is refused and every worker retries: a line (let alone a
traceback) for each would bury the log. The webhook, the workers, the queue and the
redelivery loop of one app share one ``OutageLog``; they report each failure and each
success to it, and it writes a WARNING when the first failure comes, one when the first
success follows (with what was counted in between), and a reminder with the counts so far
every ``remind_every`` seconds while it lasts (see docs/whatsapp.md).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

__all__ = ["OutageLog"]

logger = logging.getLogger("flowhq.inbox")


class OutageLog:
    """Tells the log when a store becomes unreachable and when it is back.

    Not thread-safe: report from one event loop.

    Args:
        name: What is unreachable, as the log says it.
        remind_every: Seconds between reminders while an outage lasts.
        clock: Monotonic seconds (for tests).
    """

    def __init__(
        self,
        name: str = "Redis",
        *,
        remind_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.remind_every = remind_every
        self._clock = clock
        self._since: float | None = None
        self._reminded = 0.0
        self._counts: collections.Counter[str] = collections.Counter()

    @property
    def down(self) -> bool:
        """Whether an outage is under way."""
        return self._since is not None

    def failed(self, error: BaseException, counted: str | None = None) -> None:
        """Report a failure for lack of the store; ``counted`` names what it cost.

        Args:
            error: What the client raised (its message is logged once per outage).
            counted: What failed, counted for the closing line (``"deliveries answered
                503"``); ``None`` for a failure that costs nothing (a retried poll).
        """
        now = self._clock()
        if counted is not None:
            self._counts[counted] += 1
        if self._since is None:
            self._since = self._reminded = now
            logger.warning("%s unreachable (%s); updates wait until it is back", self.name, error)
        elif now - self._reminded >= self.remind_every:
            self._reminded = now
            logger.warning(
                "%s still unreachable after %.0f s%s", self.name, now - self._since, self._tally()
            )

    def recovered(self) -> None:
        """Report a success: ends the outage under way, if any."""
        if self._since is None:
            return
        lasted = self._clock() - self._since
        logger.warning("%s is back after %.1f s%s", self.name, lasted, self._tally())
        self._since = None
        self._counts.clear()

    def _tally(self) -> str:
        if not self._counts:
            return ""
        return ": " + ", ".join(f"{n} {what}" for what, n in sorted(self._counts.items()))

"""The observer seam: what the message cycle reports, and to whom.

``Headquarters(observers=[...])`` hands each observer an event as things happen: a step
committed, a commit conflict, a send's result, a redelivery pass, the update queue's depth,
a timer fired. With no observer nothing is built: every call site first checks that the
list is not empty (see docs/operations.md for the metrics built on it).

Events carry flow and state names, counts, durations and codes: never a conversation's
identifier, a message text or a token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

__all__ = [
    "Conflict",
    "Event",
    "Handled",
    "Observer",
    "Paused",
    "QueueDepth",
    "Redelivered",
    "Sent",
    "StepDone",
    "TimerFired",
    "TimersDue",
    "emit",
]

logger = logging.getLogger("flowhq.observability")


@frozen
class StepDone:
    """A step was committed (an answer, a start, a timer firing).

    Attributes:
        flow: The flow the conversation is in after the step (``None``: none).
        before: The active states the step began in (empty for a new conversation).
        after: The active states after the step.
        entered: The states the step entered, in order (the funnel).
        final: The final state reached, when the flow finished.
        seconds: Load, step and commit, wall-clock.
        retries: Commits that lost to a concurrent writer before this one won.
    """

    flow: str | None
    before: tuple[str, ...]
    after: tuple[str, ...]
    entered: tuple[str, ...]
    final: str | None
    seconds: float
    retries: int


@frozen
class Handled:
    """An inbound message was handled.

    Attributes:
        flow: The conversation's flow (``None`` when unknown: refused before any I/O,
            or failed).
        outcome: ``processed``, ``duplicate``, ``rejected`` or ``error``.
    """

    flow: str | None
    outcome: str


@frozen
class Conflict:
    """A commit lost to a concurrent writer; the step is computed again."""

    flow: str | None


@frozen
class Sent:
    """The messenger was asked to send replies.

    Attributes:
        result: ``sent``, ``temporary`` (kept for a retry), ``permanent`` (dropped) or
            ``error`` (the messenger failed without saying how).
        code: The channel's error code (Meta's for WhatsApp), when it gave one.
        messages: How many replies the call carried.
        seconds: How long the call took.
    """

    result: str
    code: int | None
    messages: int
    seconds: float


@frozen
class Redelivered:
    """A redelivery pass over every conversation ended.

    Attributes:
        sent: Replies it sent.
        pending: Replies it found still owed (sent now or left for their sender).
    """

    sent: int
    pending: int


@frozen
class QueueDepth:
    """One shard of the update queue, sampled.

    Attributes:
        shard: The shard's number.
        pending: Updates recorded and not yet handled.
        oldest: Seconds the oldest of them has waited (``0.0`` when none).
    """

    shard: int
    pending: int
    oldest: float


@frozen
class TimersDue:
    """A timer pass found this many conversations with timers due."""

    count: int


@frozen
class TimerFired:
    """A timer fired.

    Attributes:
        flow: The conversation's flow after the firing.
        lag: Seconds between the timer's due time and its firing.
    """

    flow: str | None
    lag: float


@frozen
class Paused:
    """How many conversations are paused now (handed to a human)."""

    count: int


Event = (
    StepDone
    | Handled
    | Conflict
    | Sent
    | Redelivered
    | QueueDepth
    | TimersDue
    | TimerFired
    | Paused
)
"""Every event an observer may receive."""


class Observer(Protocol):
    """Receives the events of a Headquarters (``Headquarters(observers=[...])``)."""

    def observe(self, event: Event) -> None:
        """Take one event; it must be quick and must not raise (it runs in the cycle)."""
        ...


def emit(observers: Sequence[Observer], event: Event) -> None:
    """Hand ``event`` to each observer; an observer that raises is logged, not propagated.

    Call sites check ``if observers:`` first, so without observers no event is built.
    """
    for observer in observers:
        try:
            observer.observe(event)
        except Exception:  # instrumentation must never break the message cycle
            logger.exception("observer %r failed on %s", observer, type(event).__name__)

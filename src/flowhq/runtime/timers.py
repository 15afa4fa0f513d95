"""Timers in the conversation document: arming, pruning, taking the due ones (docs/time.md).

A component state with a timeout, reminders or a wait arms its timers on each fresh visit
(a new question tag); a visit that ends drops them. The backend's timers (``schedule``,
``start(at=...)``) stay until they fire or are cancelled. Timers are committed with the step
that set them, and a firing removes them in its own commit: a timer fires at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from flowhq.state.document import ConversationDocument, Timer
from flowhq.statecharts.component_state import ComponentState

__all__ = ["VISIT_KINDS", "arm", "earliest", "latest", "prune", "take_due"]

logger = logging.getLogger("flowhq.timers")

VISIT_KINDS = frozenset({"timeout", "reminder", "wait"})
"""Kinds of timer that belong to one visit of a component state."""


def arm(
    document: ConversationDocument,
    component: ComponentState,
    tag: str,
    now: float,
    *,
    reminders: Collection[int] | None = None,
) -> None:
    """Set the timers of a fresh visit ``tag`` of ``component``, replacing older ones.

    ``reminders``: the numbers of the reminders to set (default: all; a question given
    back after an interruption sets only those it had not sent).
    """
    if not component.timers and not any(t.state == component.id for t in document.timers):
        return
    document.timers = [t for t in document.timers if t.state != component.id]
    number = 0
    for spec in component.timers:
        suffix = spec.kind
        if spec.kind == "reminder":
            number += 1
            suffix = f"reminder{number}"
            if reminders is not None and number not in reminders:
                continue
        document.timers.append(
            Timer(
                id=f"{component.id}.{suffix}",
                due=now + spec.delay,
                kind=spec.kind,
                seq=tag,
                state=component.id,
                number=number if spec.kind == "reminder" else 0,
            )
        )


def prune(document: ConversationDocument, alive: Collection[str]) -> None:
    """Drop the timers of visits that ended.

    A visit lives while its state is active or remembered by a history state (``alive``)
    and still has the tag the timer was armed with.
    """
    tags = document.current.tags
    document.timers = [
        timer
        for timer in document.timers
        if timer.kind not in VISIT_KINDS
        or (timer.state in alive and tags.get(timer.state or "") == timer.seq)
    ]


def take_due(document: ConversationDocument, now: float) -> list[Timer]:
    """Remove and return the timers due at ``now``, in the order they fire.

    By due time; a visit's reminders after the other timers due with them, so a timeout
    that is also due ends the visit first and a late reminder is not sent after it.
    """
    due = [timer for timer in document.timers if timer.due <= now]
    if due:
        document.timers = [timer for timer in document.timers if timer.due > now]
    return sorted(due, key=lambda timer: (timer.kind == "reminder", timer.due, timer.id))


def earliest(document: ConversationDocument | None) -> float | None:
    """When the document's next timer is due (epoch seconds), or ``None``."""
    if document is None or not document.timers:
        return None
    return min(timer.due for timer in document.timers)


def latest(document: ConversationDocument | None) -> float | None:
    """When the document's last timer is due (epoch seconds), or ``None``.

    Timers held while the conversation is paused count: they come back on resume.
    """
    if document is None:
        return None
    held = document.paused.held if document.paused is not None else []
    dues = [timer.due for timer in (*document.timers, *held)]
    return max(dues) if dues else None

"""What the message cycle hands back: ``Outcome``, ``StepRecord``, and the observer seam.

These are public (re-exported from ``flowhq``); see docs/architecture.md for the cycle
that fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from attrs import define, field, frozen

from flowhq.messaging.types import OutboundMessage

__all__ = ["ForcedResult", "Outcome", "PausedConversation", "StepObserver", "StepRecord", "Taken"]

Taken = tuple[str, str | None, str]
"""A transition taken: (source state id, target state id, event)."""


@frozen
class StepRecord:
    """What one committed step did, for observers (coverage, path replay, the dev console).

    Attributes:
        flow: The flow the step ran.
        fired: ``(origin state or None for a command, event)`` in the order dispatched.
        transitions: The declared transitions taken.
        configuration: The configuration after the step.
        finished: Whether the flow reached a final state.
        conversation: ``channel:identifier`` of the conversation.
        message: The text or payload of the message that triggered the step, if any.
        replies: The texts of the step's replies.
    """

    flow: str
    fired: tuple[tuple[str | None, str], ...]
    transitions: tuple[Taken, ...]
    configuration: tuple[str, ...]
    finished: bool
    conversation: str = ""
    message: str | None = None
    replies: tuple[str, ...] = ()


@frozen
class ForcedResult:
    """A result forced on a component instead of running it, with the values it saves.

    An ApiCall's handler or an Action saves values later states show; forcing the result
    skips them, so the test says what they would have been.
    """

    result: str
    values: Mapping[str, Any] = {}


class StepObserver(Protocol):
    """Instrumentation seam (used by ``flowhq.testing``); production code passes none.

    ``forced_result`` may answer a result for a component that finishes by itself (ApiCall,
    Action, Message) instead of running it; ``committed`` sees every committed step.
    """

    def forced_result(self, flow: str, state: str, conversation: str) -> str | ForcedResult | None:
        """Return the result ``state`` should finish with, or ``None`` to run it.

        ``conversation`` is ``channel:identifier``.
        """
        ...

    def committed(self, record: StepRecord) -> None:
        """Called after a step was committed."""
        ...


@define
class Outcome:
    """What handling one message did.

    Attributes:
        replies: The replies of this step, in order.
        flow: The flow the conversation is in after the step (``None`` if none ran).
        configuration: The chart's active state ids after the step.
        finished: Whether the flow reached a final state.
        duplicate: The message id was already processed; nothing happened.
        revision: The document's revision after the step.
        delivered: Whether the messenger accepted the replies (``None`` without messenger).
        rejected: The input was refused before any I/O (empty, too long).
        record: What the step fired and which transitions it took (``None`` when nothing
            ran: a duplicate, a rejection, a rolled-back step).
        timer: The id of the timer a call scheduled (``start(at=...)``), if any.
        fired: The ids of the timers this step fired (stale ones included).
        paused: The conversation is paused after this call: a person answers it
            (docs/handoff.md).
    """

    replies: list[OutboundMessage] = field(factory=list)
    flow: str | None = None
    configuration: list[str] = field(factory=list)
    finished: bool = False
    duplicate: bool = False
    revision: int = 0
    delivered: bool | None = None
    rejected: bool = False
    record: StepRecord | None = None
    timer: str | None = None
    fired: list[str] = field(factory=list)
    paused: bool = False


@frozen
class PausedConversation:
    """A conversation a person answers (``Headquarters.paused_conversations``).

    Attributes:
        channel: The channel type.
        identifier: The user's identifier on it.
        since: When it paused (ISO-8601 UTC).
        reason: What paused it: ``handoff`` (a ``Handoff`` state) or ``pause``'s reason.
        state: The ``Handoff`` state it waits in (``None`` for a pause from the backend).
        flow: The flow it is in, if any.
        last_inbound_at: When the user last wrote (ISO-8601 UTC), if ever.
        waiting: How many of the user's messages came since the last reply (theirs to
            answer).
    """

    channel: str
    identifier: str
    since: str
    reason: str | None
    state: str | None
    flow: str | None
    last_inbound_at: str | None
    waiting: int

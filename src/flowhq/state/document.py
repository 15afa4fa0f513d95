"""The conversation document: everything persisted for one conversation.

See docs/persistence.md for how it is stored and docs/architecture.md for who changes it.

The classes are plain attrs records; the codec in :mod:`flowhq.persistence.codec` turns them
into JSON and back. Component code never sees them: it goes through ``StateManager``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from attrs import Factory, define, field

__all__ = [
    "SCHEMA_VERSION",
    "Auth",
    "Channel",
    "ChartState",
    "ConversationDocument",
    "Current",
    "Frame",
    "Metadata",
    "OutboxEntry",
    "Timer",
    "Validation",
    "ValidationEntry",
    "utc_now",
]

SCHEMA_VERSION = 3
"""Version of the document layout; bumped when a stored field changes meaning.

3: ``timers`` (due timers, committed with the step that set them) and ``stack`` (flows
interrupted by ``start(interrupt=True)``); a schema-2 document reads as one with neither.

2: saved values (``current.values``) and their display texts (``current.labels``) live apart
from component data (``current.data``); outbox entries carry the options' tag, descriptions
and menu label; ``_metadata.last_inbound_at`` dates the customer-service window.
"""


def utc_now() -> str:
    """Return the current time as an ISO-8601 UTC string."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _redact(token: str | None) -> str:
    return "None" if token is None else "'***'"


@define
class Channel:
    """Who the conversation is with: a channel type and the user's identifier on it."""

    type: str
    identifier: str


@define
class Auth:
    """Auth state; the token is a secret and never appears in a repr."""

    token: str | None = field(default=None, repr=_redact)


@define
class Current:
    """Where the conversation is: the active flow, the waiting component, data and values.

    ``data`` holds each component's own bookkeeping by state id (attempt counters, an API
    response); ``values`` holds the values states saved, by name (a Prompt's answer, a
    Choice's option id); ``labels`` holds how a value is shown to the user when that differs
    from the value itself (a Choice's option title). Names and state ids never collide.
    ``tags`` holds, per input state, the tag of its current visit: buttons carry it, so a
    tap on an older question's button is told apart.
    """

    path: str | None = None
    component: str | None = None
    awaiting_input: bool = False
    component_result: str | None = None
    data: dict[str, dict[str, Any]] = Factory(dict)
    values: dict[str, Any] = Factory(dict)
    labels: dict[str, str] = Factory(dict)
    tags: dict[str, str] = Factory(dict)


@define
class ChartState:
    """The statechart's saved configuration (ancestors included) and history values."""

    flow: str | None = None
    fingerprint: str | None = None
    configuration: list[str] = Factory(list)
    history: dict[str, list[str]] = Factory(dict)


@define
class ValidationEntry:
    """One validated update or recorded error."""

    operation: str
    component: str
    timestamp: str
    success: bool
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The entry as stored and as ``StateManager`` hands it out (a fresh dict)."""
        return {
            "operation": self.operation,
            "component": self.component,
            "timestamp": self.timestamp,
            "success": self.success,
            "error": self.error,
        }


@define
class Validation:
    """Attempt counters per operation and a bounded history, newest last."""

    attempts: dict[str, int] = Factory(dict)
    history: list[ValidationEntry] = Factory(list)


@define
class OutboxEntry:
    """A reply committed with the state and not yet confirmed delivered.

    ``revision`` is the revision of the commit that produced it: delivery is confirmed per
    commit. ``queued_at`` (epoch seconds) tells a crashed sender's replies from ones another
    process is sending right now. ``message_id`` is the inbound message it answers, so a
    retried webhook can send its replies. The other fields are the outbound message's.
    """

    revision: int
    text: str
    buttons: list[tuple[str, str]] = Factory(list)
    queued_at: float = 0.0
    tag: str | None = None
    descriptions: list[str | None] = Factory(list)
    menu_label: str | None = None
    offset: int = 0
    message_id: str | None = None


@define
class Timer:
    """A timer due in this conversation (see docs/time.md).

    ``kind`` says what firing it does: ``timeout``, ``reminder`` and ``wait`` belong to the
    visit ``seq`` (the question tag) of the component state ``state``; ``event`` fires
    ``event`` as a command would; ``start`` begins the flow named in ``data``. ``due`` is
    in epoch seconds (UTC). ``number`` is a reminder's position among its state's reminders.
    A firing is a step; the timer leaves the document in the commit of that step, so it
    never fires twice.
    """

    id: str
    due: float
    kind: str
    seq: str
    state: str | None = None
    event: str | None = None
    number: int = 0
    data: dict[str, Any] = Factory(dict)


@define
class Frame:
    """A flow interrupted by another; it is resumed, question asked again, when that ends.

    ``timers`` are the timers its question had when it was interrupted: on return the
    timeout starts again and only the reminders not sent yet are set again.
    """

    current: Current
    chart: ChartState
    timers: list[Timer] = Factory(list)


@define
class Metadata:
    """Bookkeeping: schema version and timestamps (ISO-8601 UTC).

    ``last_inbound_at`` is when the user last wrote (the customer-service window opens
    then). ``upgraded_from`` is set while a document decoded from an older schema still
    waits for the upgrade steps that need its flow (see ``flowhq.state.upgrade``).
    """

    schema: int = SCHEMA_VERSION
    initialized_at: str = Factory(utc_now)
    updated_at: str = Factory(utc_now)
    last_inbound_at: str | None = None
    upgraded_from: int | None = None


@define
class ConversationDocument:
    """Everything persisted for one conversation; field names follow the seed design."""

    channel: Channel
    dashboard: dict[str, Any] = Factory(dict)
    action: dict[str, Any] = Factory(dict)
    auth: Auth = Factory(Auth)
    current: Current = Factory(Current)
    chart: ChartState = Factory(ChartState)
    validation: Validation = Factory(Validation)
    inbox: list[str] = Factory(list)
    outbox: list[OutboxEntry] = Factory(list)
    timers: list[Timer] = Factory(list)
    stack: list[Frame] = Factory(list)
    metadata: Metadata = Factory(Metadata)

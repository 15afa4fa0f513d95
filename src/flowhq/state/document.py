"""The conversation document: everything persisted for one conversation (DESIGN §5).

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
    "Metadata",
    "OutboxEntry",
    "Validation",
    "ValidationEntry",
    "utc_now",
]

SCHEMA_VERSION = 1
"""Version of the document layout; bumped when a stored field changes meaning."""


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
    """Where the conversation is: the active flow, the waiting component and their data."""

    path: str | None = None
    component: str | None = None
    awaiting_input: bool = False
    component_result: str | None = None
    data: dict[str, Any] = Factory(dict)


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
    process is sending right now.
    """

    revision: int
    text: str
    buttons: list[tuple[str, str]] = Factory(list)
    queued_at: float = 0.0


@define
class Metadata:
    """Bookkeeping: schema version and timestamps (ISO-8601 UTC)."""

    schema: int = SCHEMA_VERSION
    initialized_at: str = Factory(utc_now)
    updated_at: str = Factory(utc_now)


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
    metadata: Metadata = Factory(Metadata)

"""Intake: the conversation key of a call and the checks an inbound message passes first.

Everything here runs before any I/O: a malformed message raises ``InputError``; an empty or
over-long text is answered with a refusal and never reaches the store (docs/architecture.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from flowhq.errors import InputError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage
from flowhq.state.json_values import has_lone_surrogate, storable_copy
from flowhq.state.secrets import normalize_token

__all__ = ["EMPTY_TEXT", "MAX_ID", "MAX_TEXT", "TOO_LONG", "Intake", "protected_changes", "values"]

MAX_TEXT = 4096
"""Default limit on inbound text length (WhatsApp's own limit for a text message)."""

MAX_ID = 256
"""Longest accepted message id, identifier or payload."""

EMPTY_TEXT = "I received an empty message. Please type your answer."
TOO_LONG = "That message is too long (at most {limit} characters). Please send a shorter one."

_CHANNEL = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")


def check_text(value: object, what: str, *, limit: int | None = MAX_ID) -> None:
    """Refuse a non-string, an over-long string or one JSON cannot store (lone surrogates).

    Raises:
        InputError: naming ``what`` and the problem.
    """
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, not {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise InputError(f"{what} is longer than {limit} characters")
    if has_lone_surrogate(value):
        raise InputError(f"{what} contains a lone surrogate (not valid Unicode text)")


class Intake:
    """Builds conversation keys and checks inbound messages for one Headquarters.

    Args:
        channels: Accepted channel types (``None``: any well-formed name).
        max_text: Longest accepted inbound text.
    """

    def __init__(self, *, channels: Collection[str] | None, max_text: int) -> None:
        self.channels = frozenset(channels) if channels is not None else None
        self.max_text = max_text

    def key(self, channel: str, identifier: str) -> ConversationKey:
        """The conversation ``(channel, identifier)`` names.

        Raises:
            InputError: a malformed or unknown channel, a malformed identifier.
        """
        if not isinstance(channel, str) or not _CHANNEL.match(channel):
            shown = channel if isinstance(channel, str) else type(channel).__name__
            raise InputError(f"malformed channel {shown!r}")
        if self.channels is not None and channel not in self.channels:
            raise InputError(f"unknown channel {channel!r}; accepted: {sorted(self.channels)}")
        check_text(identifier, "identifier")
        if not identifier.strip():
            raise InputError("identifier must be a non-empty string")
        return ConversationKey(channel, identifier)

    def admit(self, inbound: InboundMessage) -> ConversationKey:
        """The key of ``inbound`` once its fields are checked.

        Raises:
            InputError: a field of the wrong type, too long, or not valid Unicode text.
        """
        key = self.key(inbound.channel, inbound.identifier)
        check_text(inbound.message_id, "message_id")
        if not inbound.message_id:
            raise InputError("message_id must be a non-empty string")
        check_text(inbound.kind, "kind", limit=32)
        if inbound.payload is not None:
            check_text(inbound.payload, "payload")
        if inbound.tag is not None:
            check_text(inbound.tag, "tag", limit=32)
        if inbound.text is not None:
            check_text(inbound.text, "text", limit=None)
        if inbound.title is not None:
            check_text(inbound.title, "title", limit=None)
        return key

    def too_old(self, inbound: InboundMessage, now: float, window: float) -> bool:
        """Whether ``inbound`` was sent before the deduplication window (a replay).

        Its id may be forgotten by then, so it could not be told from a new message: it is
        refused instead (logged, no reply).
        """
        return inbound.timestamp is not None and inbound.timestamp < now - window

    def refusal(self, inbound: InboundMessage, gettext: Callable[[str], str] = str) -> str | None:
        """The text that refuses ``inbound`` without a step (empty, too long), or ``None``.

        ``gettext`` translates it into the conversation's language.
        """
        blank = inbound.text is None or not inbound.text.strip()
        if inbound.kind == "text" and inbound.payload is None and blank:
            return gettext(EMPTY_TEXT)
        if inbound.text is not None and len(inbound.text) > self.max_text:
            return gettext(TOO_LONG).format(limit=self.max_text)
        return None


def protected_changes(
    dashboard: Mapping[str, Any] | None, action: Mapping[str, Any] | None, token: str | None
) -> dict[str, Any]:
    """The checked copies ``initialize`` writes (refused before any I/O)."""
    changes: dict[str, Any] = {}
    if token is not None:
        try:
            changes["token"] = normalize_token(token)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    for name, data in (("dashboard", dashboard), ("action", action)):
        if data is not None:
            try:
                changes[name] = storable_copy(dict(data), f"{name} data")
            except TypeError as exc:
                raise InputError(str(exc)) from None
    return changes


def values(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A checked copy of the values a flow is started with (``start(data=...)``).

    Raises:
        InputError: a name that is not a plain name, or a value JSON cannot hold.
    """
    if data is None:
        return {}
    bad = sorted(repr(name) for name in data if not str(name).isidentifier())
    if bad:
        raise InputError(f"start data names must be plain names: {', '.join(bad)}")
    try:
        copied: dict[str, Any] = storable_copy(dict(data), "start data")
    except TypeError as exc:
        raise InputError(str(exc)) from None
    return copied


def count(value: object, what: str) -> int:
    """A setting that counts something: a non-negative ``int``.

    Raises:
        ValueError: anything else.
    """
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} must be a non-negative int, not {value!r}")
    return value


def agent_text(text: object, limit: int) -> str:
    """A person's reply, checked before any I/O (``reply_as_agent``).

    Raises:
        InputError: not a string, blank, longer than ``limit``, or not valid Unicode.
    """
    check_text(text, "the reply", limit=limit)
    assert isinstance(text, str)
    if not text.strip():
        raise InputError("the reply is empty")
    return text

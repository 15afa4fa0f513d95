"""Inbound and outbound message types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import field, frozen

__all__ = ["InboundMessage", "OutboundMessage"]


def _buttons(
    value: Sequence[tuple[str, str]] | Sequence[Sequence[str]],
) -> tuple[tuple[str, str], ...]:
    return tuple((str(button_id), str(title)) for button_id, title in value)


@frozen
class InboundMessage:
    """A message from a user, as a channel adapter hands it over.

    Args:
        channel: The channel type, e.g. ``"whatsapp"``.
        identifier: The user's id on that channel (a phone number for WhatsApp).
        message_id: The channel's unique id of this message; used to drop duplicates.
        text: The typed text, if any.
        payload: The id of a pressed reply button or list row.
        kind: ``"text"``, ``"interactive"``, ``"image"``, ``"location"``, ...
    """

    channel: str
    identifier: str
    message_id: str
    text: str | None = None
    payload: str | None = field(default=None, kw_only=True)
    kind: str = field(default="text", kw_only=True)

    @property
    def answer(self) -> str | None:
        """What the user chose or typed: the button payload first, else the text."""
        return self.payload if self.payload is not None else self.text


@frozen
class OutboundMessage:
    """A reply to the user: text, optionally with reply buttons ``(id, title)``."""

    text: str
    buttons: tuple[tuple[str, str], ...] = field(default=(), converter=_buttons)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form of the message."""
        return {"text": self.text, "buttons": [list(button) for button in self.buttons]}

"""Inbound and outbound message types, shared by every channel.

They are channel-neutral: a channel adapter (``flowhq.channels.whatsapp``) turns its webhook
updates into :class:`InboundMessage` and renders :class:`OutboundMessage` in its own format
(reply buttons, lists, plain numbered text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

__all__ = [
    "MAX_TAG_LENGTH",
    "MORE_PREFIX",
    "TAG_SEPARATOR",
    "InboundMessage",
    "Location",
    "Media",
    "OutboundMessage",
    "decode_button_id",
    "encode_button_id",
]

MAX_TAG_LENGTH = 12
"""Longest question tag (base-36 digits) a button id carries."""
_TAG = re.compile(rf"^[0-9a-z]{{1,{MAX_TAG_LENGTH}}}$")
MORE_PREFIX = "flowhq.more:"
"""Payload of the row a channel adds to page a long list: ``flowhq.more:<next offset>``."""

TAG_SEPARATOR = "~"
"""Separates an option id from the question tag in a button id sent to a channel."""


def _buttons(
    value: Sequence[tuple[str, str]] | Sequence[Sequence[str]],
) -> tuple[tuple[str, str], ...]:
    return tuple((str(button_id), str(title)) for button_id, title in value)


def _descriptions(value: Iterable[str | None]) -> tuple[str | None, ...]:
    return tuple(value)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value) if value else {}


@frozen
class Media:
    """A media attachment of an inbound message (image, video, audio, document, sticker).

    Attributes:
        id: The channel's media id (fetch the bytes through the channel's media API).
        mime_type: The MIME type the channel reported.
        caption: The caption the user typed, if any.
        filename: The file name of a document.
        sha256: The channel's checksum of the bytes, if given.
    """

    id: str
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    sha256: str | None = None


@frozen
class Location:
    """A location the user shared.

    Attributes:
        latitude: Degrees north.
        longitude: Degrees east.
        name: The place's name, if the user picked a place.
        address: The place's address, if given.
        url: A link for the place, if given.
    """

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


@frozen
class InboundMessage:
    """A message from a user, as a channel adapter hands it over.

    Args:
        channel: The channel type, e.g. ``"whatsapp"``.
        identifier: The user's id on that channel (a phone number for WhatsApp).
        message_id: The channel's unique id of this message; used to drop duplicates.
        text: The typed text (or a media caption), if any.
        payload: The id of a pressed reply button or list row.
        kind: ``"text"``, ``"interactive"``, ``"button"``, ``"image"``, ``"video"``,
            ``"audio"``, ``"document"``, ``"sticker"``, ``"location"``, ``"contacts"``,
            ``"reaction"``, ``"order"``, ``"system"`` or ``"unsupported"``.
        title: The title of the pressed button or row, as the user saw it.
        tag: The question tag carried by a pressed button's id (see
            :func:`encode_button_id`): which question the button belonged to.
        reply_to: The channel's id of the message this one replies to (WhatsApp
            ``context.id``), if any.
        media: The attachment of a media message.
        location: The shared location of a location message.
        data: Kind-specific details (contacts, reaction, order, system change, errors).
        timestamp: When the user sent it, in epoch seconds, if the channel says.
    """

    channel: str
    identifier: str
    message_id: str
    text: str | None = None
    payload: str | None = field(default=None, kw_only=True)
    kind: str = field(default="text", kw_only=True)
    title: str | None = field(default=None, kw_only=True)
    tag: str | None = field(default=None, kw_only=True)
    reply_to: str | None = field(default=None, kw_only=True)
    media: Media | None = field(default=None, kw_only=True)
    location: Location | None = field(default=None, kw_only=True)
    data: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping, kw_only=True)
    timestamp: float | None = field(default=None, kw_only=True)

    @property
    def answer(self) -> str | None:
        """What the user chose or typed: the button payload first, else the text."""
        return self.payload if self.payload is not None else self.text


@frozen
class OutboundMessage:
    """A reply to the user: a text, optionally with options to pick from.

    Channels render the options their own way: WhatsApp as reply buttons (up to 3) or a
    list, a terminal as numbered lines.

    Args:
        text: The message body.
        buttons: Options as ``(id, title)``; the id comes back as the inbound ``payload``.
        tag: Marks which question the buttons belong to; channels carry it in the button
            ids so a tap on an older question's button can be told apart.
        descriptions: Optional one-line descriptions of the options, aligned with
            ``buttons`` (shown under list rows where the channel has them).
        menu_label: The label of the button that opens a list of options.
        offset: The first option to show, for channels that page long lists (the user
            asked for more options).
    """

    text: str
    buttons: tuple[tuple[str, str], ...] = field(default=(), converter=_buttons)
    tag: str | None = field(default=None, kw_only=True)
    descriptions: tuple[str | None, ...] = field(default=(), converter=_descriptions, kw_only=True)
    menu_label: str | None = field(default=None, kw_only=True)
    offset: int = field(default=0, kw_only=True)

    def plain_text(self) -> str:
        """The text with numbered options, for channels that cannot show buttons."""
        if not self.buttons:
            return self.text
        lines = [self.text]
        lines += [f"{n}. {title}" for n, (_, title) in enumerate(self.buttons, start=1)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form of the message."""
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [list(button) for button in self.buttons],
        }
        if self.tag is not None:
            data["tag"] = self.tag
        if any(self.descriptions):
            data["descriptions"] = list(self.descriptions)
        if self.menu_label is not None:
            data["menu_label"] = self.menu_label
        if self.offset:
            data["offset"] = self.offset
        return data


def encode_button_id(option: str, tag: str | None) -> str:
    """The id a channel sends for an option: ``option~tag`` (or the option without a tag)."""
    return option if tag is None else f"{option}{TAG_SEPARATOR}{tag}"


def decode_button_id(raw: str) -> tuple[str, str | None]:
    """Split a button id into the option id and its question tag (``None`` when untagged)."""
    option, sep, tag = raw.rpartition(TAG_SEPARATOR)
    if sep and option and _TAG.match(tag):
        return option, tag
    return raw, None

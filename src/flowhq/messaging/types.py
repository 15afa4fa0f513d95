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
    "MEDIA_KINDS",
    "MORE_PREFIX",
    "TAG_SEPARATOR",
    "InboundMessage",
    "Location",
    "Media",
    "OutboundMessage",
    "Template",
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


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value) if value else {}


MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
"""The kinds of media a message can carry."""


@frozen
class Media:
    """A media attachment: received with a message, or to send with a reply.

    Received media carry the channel's ``id`` (fetch the bytes through the channel, e.g.
    ``WhatsAppMessenger.download``). Media to send are built with :meth:`image`,
    :meth:`video`, :meth:`audio`, :meth:`document` or :meth:`sticker`, from a public
    ``https://`` link or from the id of an uploaded file.

    Attributes:
        id: The channel's media id ("" for media sent by link).
        mime_type: The MIME type the channel reported.
        caption: The caption the user typed, or the one to send.
        filename: The file name of a document.
        sha256: The channel's checksum of the bytes (hex), if given.
        kind: ``"image"``, ``"video"``, ``"audio"``, ``"document"`` or ``"sticker"``.
        link: Where the channel fetches media sent by link.
        size: The size in bytes, if known.
    """

    id: str = ""
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    sha256: str | None = None
    kind: str | None = field(default=None, kw_only=True)
    link: str | None = field(default=None, kw_only=True)
    size: int | None = field(default=None, kw_only=True)

    @classmethod
    def image(cls, source: str, *, caption: str | None = None) -> Media:
        """An image to send: ``source`` is an ``https://`` link or an uploaded media id."""
        return cls._of("image", source, caption=caption)

    @classmethod
    def video(cls, source: str, *, caption: str | None = None) -> Media:
        """A video to send (link or media id)."""
        return cls._of("video", source, caption=caption)

    @classmethod
    def audio(cls, source: str) -> Media:
        """An audio file to send (link or media id); audio takes no caption."""
        return cls._of("audio", source)

    @classmethod
    def document(
        cls, source: str, *, caption: str | None = None, filename: str | None = None
    ) -> Media:
        """A document (a PDF, ...) to send (link or media id), shown as ``filename``."""
        return cls._of("document", source, caption=caption, filename=filename)

    @classmethod
    def sticker(cls, source: str) -> Media:
        """A sticker to send (link or media id)."""
        return cls._of("sticker", source)

    @classmethod
    def _of(
        cls, kind: str, source: str, *, caption: str | None = None, filename: str | None = None
    ) -> Media:
        if not source:
            raise ValueError(f"{kind}: give a link or a media id")
        if source.startswith(("https://", "http://")):
            return cls(caption=caption, filename=filename, kind=kind, link=source)
        return cls(source, caption=caption, filename=filename, kind=kind)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form without empty fields (see :meth:`from_dict`)."""
        data = {
            "id": self.id,
            "mime_type": self.mime_type,
            "caption": self.caption,
            "filename": self.filename,
            "sha256": self.sha256,
            "kind": self.kind,
            "link": self.link,
            "size": self.size,
        }
        return {key: value for key, value in data.items() if value not in (None, "")}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Media:
        """The media :meth:`to_dict` described."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        size = data.get("size")
        return cls(
            str(data.get("id", "")),
            mime_type=text("mime_type"),
            caption=text("caption"),
            filename=text("filename"),
            sha256=text("sha256"),
            kind=text("kind"),
            link=text("link"),
            size=size if isinstance(size, int) else None,
        )


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
            ``"reaction"``, ``"order"``, ``"system"``, ``"edit"``, ``"revoke"`` (a message
            deleted), ``"call_permission"`` or ``"unsupported"``.
        title: The title of the pressed button or row, as the user saw it.
        tag: The question tag carried by a pressed button's id (see
            :func:`encode_button_id`): which question the button belonged to.
        reply_to: The channel's id of the message this one replies to (WhatsApp
            ``context.id``), if any.
        media: The attachment of a media message.
        location: The shared location of a location message.
        data: Kind-specific details (contacts, reaction, order, system change, errors).
        timestamp: When the user sent it, in epoch seconds, if the channel says.
        user_id: The channel's own stable id of the user, when it has one besides
            ``identifier`` (WhatsApp's business-scoped user id, BSUID); for a user who
            hides their phone number it is the only id there is.
        parent_user_id: The user's id shared across the business's portfolios (WhatsApp's
            parent BSUID), if the channel gives one.
        username: The user's chosen handle (WhatsApp ``@name``); it can change, so it never
            identifies the conversation.
        profile_name: The name the user shows on the channel, if given.
        traceparent: The trace the webhook's POST began (W3C ``traceparent``), so the
            worker's spans join it; not part of the message's equality.
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
    user_id: str | None = field(default=None, kw_only=True)
    parent_user_id: str | None = field(default=None, kw_only=True)
    username: str | None = field(default=None, kw_only=True)
    profile_name: str | None = field(default=None, kw_only=True)
    traceparent: str | None = field(default=None, kw_only=True, eq=False, repr=False)

    @property
    def answer(self) -> str | None:
        """What the user chose or typed: the button payload first, else the text."""
        return self.payload if self.payload is not None else self.text


@frozen
class Template:
    """A message template the channel approved beforehand (WhatsApp: a Meta template).

    Outside the customer-service window (24 hours after the user last wrote) WhatsApp only
    delivers approved templates; ``Message(text, template=Template(...))`` sends ``text``
    inside the window and this template outside it.

    Args:
        name: The template's name, as approved.
        language: Its language code, e.g. ``"en_US"``.
        params: The body's parameters in order (``{{1}}``, ``{{2}}``, ...). In a flow they
            are texts with ``{name}`` placeholders, filled when the message is sent.
        buttons: The payloads of its quick-reply buttons, in order; a tap comes back as a
            message of kind ``"button"`` with that payload.
    """

    name: str
    language: str
    params: tuple[str, ...] = field(default=(), converter=_strings, kw_only=True)
    buttons: tuple[str, ...] = field(default=(), converter=_strings, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (see :meth:`from_dict`)."""
        return {
            "name": self.name,
            "language": self.language,
            "params": list(self.params),
            "buttons": list(self.buttons),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Template:
        """The template :meth:`to_dict` described."""
        return cls(
            str(data["name"]),
            str(data["language"]),
            params=[str(p) for p in data.get("params", ())],
            buttons=[str(b) for b in data.get("buttons", ())],
        )


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
        more_label: The title of the row that pages a long list (default: the channel's,
            "More…"), in the conversation's language.
        offset: The first option to show, for channels that page long lists (the user
            asked for more options).
        template: An approved template standing for this message where only templates
            may be sent (outside WhatsApp's 24-hour window). A message with a template and
            no text *is* the template: channels send the template then.
        media: An image, video, audio, document or sticker sent with the message (the
            text becomes its caption where the channel allows one).
        quote: The channel's id of a user's message this one quotes (WhatsApp shows it
            as a reply to that message).
        header: A short line above the text of a message with options.
        footer: A short line under the text of a message with options.
        request_location: Ask the user to share their location (WhatsApp shows a "Send
            location" button under the text).
        ref: The outbox entry it is sent from (``"<revision>.<seq>"``), set by delivery, so
            a channel can tie later delivery statuses to it.
    """

    text: str
    buttons: tuple[tuple[str, str], ...] = field(default=(), converter=_buttons)
    tag: str | None = field(default=None, kw_only=True)
    descriptions: tuple[str | None, ...] = field(default=(), converter=_descriptions, kw_only=True)
    menu_label: str | None = field(default=None, kw_only=True)
    more_label: str | None = field(default=None, kw_only=True)
    offset: int = field(default=0, kw_only=True)
    template: Template | None = field(default=None, kw_only=True)
    media: Media | None = field(default=None, kw_only=True)
    request_location: bool = field(default=False, kw_only=True)
    quote: str | None = field(default=None, kw_only=True)
    header: str | None = field(default=None, kw_only=True)
    footer: str | None = field(default=None, kw_only=True)
    ref: str | None = field(default=None, kw_only=True)

    def as_template(self) -> OutboundMessage | None:
        """The message to send where only templates may go: its template alone, or ``None``."""
        if self.template is None:
            return None
        return OutboundMessage("", template=self.template, ref=self.ref)

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
        if self.more_label is not None:
            data["more_label"] = self.more_label
        if self.offset:
            data["offset"] = self.offset
        if self.template is not None:
            data["template"] = self.template.to_dict()
        if self.media is not None:
            data["media"] = self.media.to_dict()
        if self.request_location:
            data["request_location"] = True
        for name in ("quote", "header", "footer"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
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

"""One message of a WhatsApp webhook, turned into an :class:`InboundMessage`.

Meta puts the content under a key named after the message type (``"text": {"body": ...}``,
``"image": {"id": ...}``); each reader below handles one type. A message whose content is
malformed but which has a sender and an id is still passed on, as kind ``"unsupported"``
with the reason in ``data["problem"]``: the flow can answer it, and nothing is lost silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from attrs import define, field, frozen

from flowhq.channels.whatsapp._fields import (
    ItemError,
    epoch,
    number,
    obj,
    optional_bool,
    optional_list,
    optional_obj,
    optional_str,
    required_str,
    show,
)
from flowhq.messaging.types import InboundMessage, Location, Media, decode_button_id

__all__ = ["CHANNEL", "Contact", "parse_message"]

CHANNEL = "whatsapp"
"""The channel of WhatsApp conversations: ``ConversationKey(CHANNEL, wa_id)``."""


@define
class _Content:
    """What a type reader found: the kind and the fields it fills."""

    kind: str
    text: str | None = None
    payload: str | None = None
    title: str | None = None
    tag: str | None = None
    media: Media | None = None
    location: Location | None = None
    reply_to: str | None = None
    data: dict[str, Any] = field(factory=dict)


@frozen
class Contact:
    """What ``value.contacts`` says of a sender (every field optional, as Meta sends them)."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    name: str | None = None
    username: str | None = None


def parse_message(
    raw: object, *, change_data: Mapping[str, Any], profiles: Mapping[str, Contact]
) -> tuple[InboundMessage, str | None]:
    """Read one entry of ``value.messages``.

    The sender is its phone number (``from``) or, for a user who hides it behind a
    username, its business-scoped user id (``from_user_id``; a changed BSUID's notice may
    name it only as ``system.previous_user_id``): the identifier of the message.
    The BSUID, parent BSUID, username and profile name come along when Meta gives them.

    Args:
        raw: The message as it came.
        change_data: Data every message of the change carries (``phone_number_id``, ...).
        profiles: The senders as ``value.contacts`` describes them, by phone number and by
            BSUID.

    Returns:
        The message and, when its content was malformed, the reason it became
        ``"unsupported"``.

    Raises:
        ItemError: Without a sender and an id there is nobody to answer: skip it.
    """
    item = obj(raw, "the message")
    who = _sender(item, profiles)
    sender = who.wa_id or who.user_id
    if sender is None:
        raise ItemError("no 'from' and no 'from_user_id'")
    message_id = required_str(item, "id")
    data: dict[str, Any] = dict(change_data)
    if who.name is not None:
        data["profile_name"] = who.name
    message_type = item.get("type")
    try:
        content = _content(item, message_type)
        timestamp = epoch(item, "timestamp")
    except ItemError as problem:
        # When it was sent and what it answered still count (a tap on an interactive
        # message whose content Meta could not describe); nothing else half-read is kept.
        content = _Content("unsupported", reply_to=_context_id(item))
        data["type"] = message_type if isinstance(message_type, str) else None
        data["problem"] = str(problem)
        timestamp = None
        with contextlib.suppress(ItemError):
            timestamp = epoch(item, "timestamp")
        _in_group(item, content, data)
        unsupported = _inbound(sender, message_id, content, data, timestamp, who=who)
        return unsupported, str(problem)
    data.update(content.data)
    _in_group(item, content, data)
    return _inbound(sender, message_id, content, data, timestamp, who=who), None


def _in_group(item: Mapping[str, Any], content: _Content, data: dict[str, Any]) -> None:
    """A message in a group chat (``group_id``, Meta's Groups API) becomes kind ``group``.

    Flows are one-to-one conversations: answering a group message in private would be
    wrong, so it goes to ``on_event`` with ``data["group_id"]`` and its own type in
    ``data["type"]``; its text, media or location are read as usual.
    """
    group = item.get("group_id")
    if isinstance(group, str) and group:
        data["group_id"] = group
        data["type"] = item.get("type")
        content.kind = "group"


def _inbound(
    sender: str,
    message_id: str,
    content: _Content,
    data: dict[str, Any],
    timestamp: float | None,
    *,
    who: Contact,
) -> InboundMessage:
    return InboundMessage(
        CHANNEL,
        sender,
        message_id,
        content.text,
        kind=content.kind,
        payload=content.payload,
        title=content.title,
        tag=content.tag,
        media=content.media,
        location=content.location,
        reply_to=content.reply_to,
        data=data,
        timestamp=timestamp,
        user_id=who.user_id,
        parent_user_id=who.parent_user_id,
        username=who.username,
        profile_name=who.name,
    )


def _present(item: Mapping[str, Any], key: str) -> str | None:
    """``item[key]``: absent is ``None``, present must be a non-empty string."""
    return None if item.get(key) is None else required_str(item, key)


def _sender(item: Mapping[str, Any], profiles: Mapping[str, Contact]) -> Contact:
    """Who sent ``item``: its own fields, completed by the change's ``contacts`` entry.

    A system notice has no ``contacts``; a changed number or BSUID names the user's BSUID
    before the change in ``system.previous_user_id``, and a changed BSUID may name the
    user by nothing else (no ``from``, no ``from_user_id``).
    """
    wa_id, user_id = (_present(item, key) for key in ("from", "from_user_id"))
    parent = optional_str(item, "from_parent_user_id")
    if user_id is None and item.get("type") == "system":
        user_id, parent = _previous_ids(item.get("system"), parent)
    contact = profiles.get(wa_id or "") or profiles.get(user_id or "") or Contact()
    return Contact(
        wa_id=wa_id,
        user_id=user_id or contact.user_id,
        parent_user_id=parent or contact.parent_user_id,
        name=contact.name,
        username=contact.username,
    )


def _previous_ids(system: object, parent: str | None) -> tuple[str | None, str | None]:
    """The BSUID and parent BSUID a system notice says the user had; best effort."""
    if not isinstance(system, Mapping):
        return None, parent
    found = [system.get(key) for key in ("previous_user_id", "previous_parent_user_id")]
    user_id, previous = (value if isinstance(value, str) and value else None for value in found)
    return user_id, parent or previous


def _content(item: Mapping[str, Any], message_type: object) -> _Content:
    if not isinstance(message_type, str):
        raise ItemError("no 'type'" if message_type is None else "'type' is not a string")
    reader = _READERS.get(message_type, _unsupported)
    try:
        content = reader(item)
    except ItemError as problem:
        raise ItemError(f"{show(message_type)} message: {problem}") from None
    if content.kind == "unsupported" or message_type == "unsupported":
        content.data["type"] = message_type  # what Meta called it (an edit may come so)
    _add_surroundings(item, content)
    return content


def _context_id(item: Mapping[str, Any]) -> str | None:
    """The id of the message ``item`` replies to, if it is readable."""
    context = item.get("context")
    found = context.get("id") if isinstance(context, Mapping) else None
    return found if isinstance(found, str) and found else None


def _add_surroundings(item: Mapping[str, Any], content: _Content) -> None:
    """What any kind may carry: Meta's errors, the ad the chat came from, the reply context."""
    errors = optional_list(item, "errors")
    if errors is not None:
        content.data["errors"] = errors
    referral = optional_obj(item, "referral")  # a click-to-WhatsApp ad
    if referral is not None:
        content.data["referral"] = referral
    context = optional_obj(item, "context")
    if context is not None:
        # Also says forwarded / frequently_forwarded, or which catalogue product was asked about.
        content.data["context"] = context
        content.reply_to = optional_str(context, "id")


def _part(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The object holding the content, under the key named after the type."""
    value = item.get(key)
    if value is None:
        raise ItemError(f"no {key!r}")
    return obj(value, repr(key))


def _text(item: Mapping[str, Any]) -> _Content:
    return _Content("text", text=required_str(_part(item, "text"), "body"))


def _interactive(item: Mapping[str, Any]) -> _Content:
    part = _part(item, "interactive")
    reply_type = required_str(part, "type")
    reply = obj(part.get(reply_type), f"'interactive.{reply_type}'")
    data: dict[str, Any] = {"interactive_type": reply_type}
    if reply_type in {"button_reply", "list_reply"}:
        payload, tag = decode_button_id(required_str(reply, "id"))
        description = optional_str(reply, "description")
        if description is not None:
            data["description"] = description
        title = optional_str(reply, "title")
        return _Content("interactive", payload=payload, tag=tag, title=title, data=data)
    if reply_type == "call_permission_reply":  # may the business call the user?
        return _Content("call_permission", data={"call_permission": dict(reply)})
    if reply_type == "nfm_reply":  # a completed WhatsApp Flow
        data["response_json"] = required_str(reply, "response_json")
        data["flow_name"] = optional_str(reply, "name")
        return _Content("interactive", data=data)
    return _Content("unsupported", data=data)


def _button(item: Mapping[str, Any]) -> _Content:
    """A template's quick-reply button: the payload was set when the template was sent."""
    part = _part(item, "button")
    payload, tag = decode_button_id(required_str(part, "payload"))
    text = optional_str(part, "text")
    return _Content("button", text=text, payload=payload, title=text, tag=tag)


def _media(item: Mapping[str, Any], kind: str) -> _Content:
    part = _part(item, kind)
    media = Media(
        required_str(part, "id"),
        mime_type=optional_str(part, "mime_type"),
        caption=optional_str(part, "caption"),
        filename=optional_str(part, "filename"),
        sha256=optional_str(part, "sha256"),
        kind=kind,
        size=_size(part),
    )
    data: dict[str, Any] = {}
    if kind == "audio":  # a voice note recorded in the chat, not a file sent
        data["voice"] = bool(optional_bool(part, "voice"))
    if kind == "sticker":
        data["animated"] = bool(optional_bool(part, "animated"))
    return _Content(kind, text=media.caption, media=media, data=data)


def _size(part: Mapping[str, Any]) -> int | None:
    """The size in bytes, where Meta gives one (``file_size``); best effort."""
    size = part.get("file_size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def _location(item: Mapping[str, Any]) -> _Content:
    part = _part(item, "location")
    location = Location(
        number(part, "latitude"),
        number(part, "longitude"),
        name=optional_str(part, "name"),
        address=optional_str(part, "address"),
        url=optional_str(part, "url"),
    )
    return _Content("location", location=location)


def _contacts(item: Mapping[str, Any]) -> _Content:
    contacts = optional_list(item, "contacts")
    if contacts is None:
        raise ItemError("no 'contacts'")
    return _Content("contacts", data={"contacts": contacts})


def _reaction(item: Mapping[str, Any]) -> _Content:
    part = _part(item, "reaction")
    # No emoji means the user took the reaction back.
    reaction = {
        "message_id": required_str(part, "message_id"),
        "emoji": optional_str(part, "emoji"),
    }
    return _Content("reaction", data={"reaction": reaction})


def _whole(item: Mapping[str, Any], kind: str) -> _Content:
    """Kinds whose object is handed on as given (an order's items, a system notice)."""
    return _Content(kind, data={kind: _part(item, kind)})


def _changed(item: Mapping[str, Any], kind: str) -> _Content:
    """A user edited (``edit``) or deleted (``revoke``) one of their messages."""
    part = _part(item, kind)
    data: dict[str, Any] = {kind: dict(part)}
    original = part.get("original_message_id") or part.get("id")
    if isinstance(original, str):
        data["original_message_id"] = original
    return _Content(kind, data=data)


def _unsupported(item: Mapping[str, Any]) -> _Content:
    return _Content("unsupported")


def _unsupported_by_meta(item: Mapping[str, Any]) -> _Content:
    """Meta's ``unsupported`` message: ``unsupported.type`` says what the user sent.

    On a plain Cloud API number (not Coexistence) an edit comes this way, with
    ``unsupported.type`` ``"edit"`` and no word of which message changed: it is an
    ``"edit"`` all the same, never an answer to ask again about.
    """
    part = optional_obj(item, "unsupported")
    if part is None:
        return _Content("unsupported")
    data: dict[str, Any] = {"unsupported": dict(part)}
    return _Content("edit" if part.get("type") == "edit" else "unsupported", data=data)


_READERS: Mapping[str, Callable[[Mapping[str, Any]], _Content]] = {
    "text": _text,
    "interactive": _interactive,
    "button": _button,
    "image": partial(_media, kind="image"),
    "video": partial(_media, kind="video"),
    "audio": partial(_media, kind="audio"),
    "document": partial(_media, kind="document"),
    "sticker": partial(_media, kind="sticker"),
    "location": _location,
    "contacts": _contacts,
    "reaction": _reaction,
    "order": partial(_whole, kind="order"),
    "system": partial(_whole, kind="system"),
    "edit": partial(_changed, kind="edit"),
    "revoke": partial(_changed, kind="revoke"),
    "unsupported": _unsupported_by_meta,
}

"""Cloud API webhook deliveries as Meta posts them, for tests and simulators.

Each builder returns one item of a delivery as plain JSON data (the shapes of Meta's webhook
reference); :func:`delivery` wraps items in the envelope and returns the body bytes, and
:func:`~flowhq.channels.whatsapp.signature.sign` gives the ``X-Hub-Signature-256`` header::

    body = delivery(([text("15550001111", "hi")], []))
    headers = {"X-Hub-Signature-256": sign(body, app_secret)}

Message ids are fresh on every call unless given.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from flowhq.channels.whatsapp.outbound import is_user_id

__all__ = [
    "PHONE_NUMBER_ID",
    "button_reply",
    "changed",
    "delivery",
    "list_reply",
    "location",
    "media",
    "status",
    "text",
    "wamid",
]

PHONE_NUMBER_ID = "1098765432"
"""The business number's id a delivery is addressed to unless told otherwise."""

_sequence = itertools.count(1)

Item = dict[str, Any]
"""One message or status of a delivery, as JSON data."""


def wamid() -> str:
    """A fresh WhatsApp message id (unique within the process and across processes)."""
    return f"wamid.test.{next(_sequence)}.{uuid.uuid4().hex[:12]}"


def _message(sender: str, kind: str, message_id: str | None, user_id: str | None = None) -> Item:
    # A sender who hides their number behind a username comes as `from_user_id` only.
    who = {"from_user_id": sender} if is_user_id(sender) else {"from": sender}
    if user_id is not None:
        who["from_user_id"] = user_id
    return {
        **who,
        "id": message_id or wamid(),
        "timestamp": str(int(time.time())),
        "type": kind,
    }


def text(
    sender: str, body: str, *, message_id: str | None = None, user_id: str | None = None
) -> Item:
    """A text message from ``sender``.

    Args:
        sender: A ``wa_id`` (digits, no ``+``), or a business-scoped user id
            (``US.1349…``) for a user whose number Meta withholds (``from_user_id`` only).
        body: What the user typed.
        message_id: The message's id (default: a fresh one).
        user_id: The sender's BSUID besides their number (``from_user_id``).
    """
    return {**_message(sender, "text", message_id, user_id), "text": {"body": body}}


def changed(sender: str, *, new_wa_id: str | None = None, new_user_id: str | None = None) -> Item:
    """A system notice, shaped as Meta documents it: ``sender`` changed number or BSUID.

    ``new_wa_id`` gives a ``user_changed_number`` notice (from the old number, the new one in
    ``system.wa_id``), ``new_user_id`` a ``user_changed_user_id`` one (no sender at the top:
    the old BSUID is ``system.previous_user_id``, the new one ``system.user_id``).
    """
    if new_wa_id is not None:
        system: Item = {
            "body": f"User changed from {sender} to {new_wa_id}",
            "wa_id": new_wa_id,
            "type": "user_changed_number",
        }
        return {**_message(sender, "system", None), "system": system}
    notice = _message(sender, "system", None)
    notice.pop("from", None)
    notice.pop("from_user_id", None)
    system = {
        "body": f"User changed from {sender} to {new_user_id}",
        "previous_user_id": sender,
        "user_id": new_user_id,
        "type": "user_changed_user_id",
    }
    return {**notice, "system": system}


def media(
    sender: str,
    kind: str,
    media_id: str,
    *,
    mime_type: str,
    sha256: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    message_id: str | None = None,
) -> Item:
    """A media message (``kind``: image, video, audio, document, sticker) from ``sender``.

    ``FakeGraphApi.add_media`` gives an id and sha256 whose bytes the fake then serves.
    """
    part: Item = {"id": media_id, "mime_type": mime_type}
    for key, value in (("sha256", sha256), ("caption", caption), ("filename", filename)):
        if value is not None:
            part[key] = value
    return {**_message(sender, kind, message_id), kind: part}


def button_reply(sender: str, reply_id: str, title: str, *, message_id: str | None = None) -> Item:
    """A tap on a reply button whose id is ``reply_id``."""
    return _interactive(sender, "button_reply", reply_id, title, message_id)


def list_reply(sender: str, row_id: str, title: str, *, message_id: str | None = None) -> Item:
    """A tap on a list row whose id is ``row_id``."""
    return _interactive(sender, "list_reply", row_id, title, message_id)


def _interactive(sender: str, kind: str, reply_id: str, title: str, message_id: str | None) -> Item:
    return {
        **_message(sender, "interactive", message_id),
        "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
    }


def location(
    sender: str,
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    message_id: str | None = None,
) -> Item:
    """A shared location (a named place when ``name`` is given)."""
    place: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        place["name"] = name
    if address:
        place["address"] = address
    return {**_message(sender, "location", message_id), "location": place}


def status(
    message_id: str,
    recipient: str,
    state: str,
    code: int | None = None,
    *,
    callback_data: str | None = None,
) -> Item:
    """A delivery status of a sent message (``sent``, ``delivered``, ``read``, ``failed``).

    A ``code`` adds Meta's error object, as a ``failed`` status carries. A ``recipient``
    that is a business-scoped user id comes as ``recipient_user_id`` only, as Meta sends it
    for users whose number is withheld; ``callback_data`` is the message's
    ``biz_opaque_callback_data``.
    """
    field = "recipient_user_id" if is_user_id(recipient) else "recipient_id"
    data: Item = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        field: recipient,
    }
    if code is not None:
        data["errors"] = [{"code": code, "title": "Re-engagement message"}]
    if callback_data is not None:
        data["biz_opaque_callback_data"] = callback_data
    return data


def _contact(message: Item, name: str, username: str | None) -> Item:
    """The ``contacts`` entry of a message's sender, with what Meta knows of them."""
    profile = {"name": name} if username is None else {"name": name, "username": username}
    contact: Item = {"profile": profile}
    if "from" in message:
        contact["wa_id"] = message["from"]
    if "from_user_id" in message:
        contact["user_id"] = message["from_user_id"]
    return contact


def delivery(
    *changes: tuple[Sequence[Item], Sequence[Item]],
    phone_number_id: str = PHONE_NUMBER_ID,
    profile_name: str = "Test User",
    username: str | None = None,
) -> bytes:
    """The body Meta posts: one entry per ``(messages, statuses)`` pair.

    Args:
        changes: The messages and statuses of each entry.
        phone_number_id: The business number they were sent to.
        profile_name: The senders' WhatsApp profile name.
        username: The senders' username (``@name``), if they adopted one.

    Returns:
        The JSON body, as bytes (sign exactly these bytes).
    """
    entries = []
    for messages, statuses in changes:
        value: Item = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        }
        if messages:
            # Meta sends no contacts with system notices.
            senders = [m for m in messages if m.get("type") != "system"]
            if senders:
                value["contacts"] = [_contact(m, profile_name, username) for m in senders]
            value["messages"] = list(messages)
        if statuses:
            value["statuses"] = list(statuses)
        entries.append({"id": "WABA", "changes": [{"field": "messages", "value": value}]})
    return orjson.dumps({"object": "whatsapp_business_account", "entry": entries})

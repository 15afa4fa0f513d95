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

__all__ = [
    "PHONE_NUMBER_ID",
    "button_reply",
    "delivery",
    "list_reply",
    "location",
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


def _message(sender: str, kind: str, message_id: str | None) -> Item:
    return {
        "from": sender,
        "id": message_id or wamid(),
        "timestamp": str(int(time.time())),
        "type": kind,
    }


def text(sender: str, body: str, *, message_id: str | None = None) -> Item:
    """A text message from ``sender`` (a ``wa_id``: digits, no ``+``)."""
    return {**_message(sender, "text", message_id), "text": {"body": body}}


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


def status(message_id: str, recipient: str, state: str, code: int | None = None) -> Item:
    """A delivery status of a sent message (``sent``, ``delivered``, ``read``, ``failed``).

    A ``code`` adds Meta's error object, as a ``failed`` status carries.
    """
    data: Item = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if code is not None:
        data["errors"] = [{"code": code, "title": "Re-engagement message"}]
    return data


def delivery(
    *changes: tuple[Sequence[Item], Sequence[Item]],
    phone_number_id: str = PHONE_NUMBER_ID,
    profile_name: str = "Test User",
) -> bytes:
    """The body Meta posts: one entry per ``(messages, statuses)`` pair.

    Args:
        changes: The messages and statuses of each entry.
        phone_number_id: The business number they were sent to.
        profile_name: The senders' WhatsApp profile name.

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
            value["contacts"] = [
                {"profile": {"name": profile_name}, "wa_id": m["from"]} for m in messages
            ]
            value["messages"] = list(messages)
        if statuses:
            value["statuses"] = list(statuses)
        entries.append({"id": "WABA", "changes": [{"field": "messages", "value": value}]})
    return orjson.dumps({"object": "whatsapp_business_account", "entry": entries})

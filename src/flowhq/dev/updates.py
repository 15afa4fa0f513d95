"""Cloud API webhook deliveries as Meta sends them, built and signed by the console."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import orjson

__all__ = ["interactive", "location", "text_message", "webhook_body"]

_sequence = itertools.count(1)


def _base(sender: str, kind: str) -> dict[str, Any]:
    return {
        "from": sender,
        "id": f"wamid.console.{next(_sequence)}.{uuid.uuid4().hex[:12]}",
        "timestamp": str(int(time.time())),
        "type": kind,
    }


def text_message(sender: str, body: str) -> dict[str, Any]:
    """A text message."""
    return {**_base(sender, "text"), "text": {"body": body}}


def interactive(sender: str, reply_id: str, title: str, *, row: bool) -> dict[str, Any]:
    """A tap on a reply button, or (``row``) on a list row."""
    kind = "list_reply" if row else "button_reply"
    return {
        **_base(sender, "interactive"),
        "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
    }


def location(sender: str, latitude: float, longitude: float, name: str) -> dict[str, Any]:
    """A shared location."""
    place: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        place["name"] = name
    return {**_base(sender, "location"), "location": place}


def webhook_body(phone_number_id: str, messages: list[dict[str, Any]]) -> bytes:
    """The envelope Meta posts for ``messages``."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Console user"}, "wa_id": m["from"]} for m in messages],
        "messages": messages,
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "console", "changes": [{"field": "messages", "value": value}]}],
    }
    return orjson.dumps(envelope)

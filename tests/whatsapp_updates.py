"""Building signed Cloud API webhook deliveries for tests (the shapes of Meta's reference)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

APP_SECRET = "app-secret-for-tests"
VERIFY_TOKEN = "verify-token-for-tests"
BUSINESS_NUMBER_ID = "1098765432"

_ids = itertools.count(1)


def wamid() -> str:
    """A fresh message id."""
    return f"wamid.test.{next(_ids)}.{time.time_ns()}"


def text(sender: str, body: str, *, message_id: str | None = None) -> dict[str, Any]:
    """A text message from ``sender``."""
    return {
        "from": sender,
        "id": message_id or wamid(),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def button_reply(sender: str, reply_id: str, title: str) -> dict[str, Any]:
    """A tap on a reply button."""
    return {
        "from": sender,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }


def list_reply(sender: str, row_id: str, title: str) -> dict[str, Any]:
    """A tap on a list row."""
    return {
        "from": sender,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": row_id, "title": title}},
    }


def status(message_id: str, recipient: str, state: str, code: int | None = None) -> dict[str, Any]:
    """A delivery status (with an error for ``failed``)."""
    data: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if code is not None:
        data["errors"] = [{"code": code, "title": "Re-engagement message"}]
    return data


def delivery(
    *changes: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> bytes:
    """An envelope with one entry per (messages, statuses) pair, as Meta posts it."""
    entries = []
    for messages, statuses in changes:
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "15550000000",
                "phone_number_id": BUSINESS_NUMBER_ID,
            },
        }
        if messages:
            value["contacts"] = [
                {"profile": {"name": "Test User"}, "wa_id": m["from"]} for m in messages
            ]
            value["messages"] = messages
        if statuses:
            value["statuses"] = statuses
        entries.append({"id": "WABA", "changes": [{"field": "messages", "value": value}]})
    return json.dumps({"object": "whatsapp_business_account", "entry": entries}).encode()


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header Meta would send."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

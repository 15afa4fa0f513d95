"""Edits, deletions and call-permission answers under uvicorn: they reach on_event, and the
flow never answers them with "please answer with a text message"."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from examples.signup import Signup
from flowhq import InboundMessage
from flowhq.testing.whatsapp import FakeGraphApi, text, wamid
from tests.channels.whatsapp.bot import say, serve_bot
from tests.support import wait_for


def item(sender: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: content,
    }


async def test_edits_deletions_and_call_permission_answers_go_to_on_event(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    user = "15551244001"
    events: list[InboundMessage] = []
    with serve_bot([Signup], redis_url, graph, on_event=events.append) as (url, _):
        first = text(user, "hi")
        await say(url, first)
        await wait_for(lambda: fake.texts(user) == ["What's your name?"])
        caplog.set_level(logging.INFO, logger="flowhq.channels.whatsapp")
        edited = {"original_message_id": first["id"], "message": {"type": "text"}}
        await say(url, item(user, "edit", edited))
        await say(url, item(user, "revoke", {"original_message_id": first["id"]}))
        permission = {
            "type": "call_permission_reply",
            "call_permission_reply": {"response": "reject"},
        }
        await say(url, item(user, "interactive", permission))
        await wait_for(lambda: len(events) == 3)
        await asyncio.sleep(0.3)
    assert [e.kind for e in events] == ["edit", "revoke", "call_permission"]
    assert fake.texts(user) == ["What's your name?"]  # nothing said about them
    assert "edited" in caplog.text

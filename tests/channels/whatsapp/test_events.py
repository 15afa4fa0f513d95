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


UNKNOWN = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}]


async def test_an_edit_meta_sends_as_unsupported_goes_to_on_event(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    # On a plain Cloud API number an edit comes as `unsupported` with `unsupported.type`
    # "edit"; other unsupported types still reach the flow, which asks again.
    fake, graph = fake_graph
    user = "15551244002"
    events: list[InboundMessage] = []
    with serve_bot([Signup], redis_url, graph, on_event=events.append) as (url, _):
        await say(url, text(user, "hi"))
        await wait_for(lambda: fake.texts(user) == ["What's your name?"])
        caplog.set_level(logging.INFO, logger="flowhq.channels.whatsapp")
        edit = {**item(user, "unsupported", {"type": "edit"}), "errors": UNKNOWN}
        await say(url, edit)
        await wait_for(lambda: len(events) == 1)
        poll = {**item(user, "unsupported", {"type": "poll_creation"}), "errors": UNKNOWN}
        await say(url, poll)
        await wait_for(lambda: len(fake.texts(user)) == 2)
    assert (events[0].kind, events[0].data["unsupported"]) == ("edit", {"type": "edit"})
    assert "edited" in caplog.text
    # Only the poll was answered, with the question again; the edit was not.
    second = fake.texts(user)[1]
    assert second.startswith("Please answer with a text message")
    assert "What's your name?" in second
    assert len(events) == 1


async def test_a_message_in_a_group_goes_to_on_event_and_is_never_answered_in_private(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551244003"
    events: list[InboundMessage] = []
    with serve_bot([Signup], redis_url, graph, on_event=events.append) as (url, _):
        in_group = {**text(user, "hi all"), "group_id": "Y2FwaV9ncm91cDpDTElOSUM="}
        await say(url, in_group)
        await wait_for(lambda: len(events) == 1)
        await say(url, text(user, "hi"))  # the same person, one to one: the flow answers
        await wait_for(lambda: fake.texts(user) == ["What's your name?"])
        await asyncio.sleep(0.3)
    assert (events[0].kind, events[0].text) == ("group", "hi all")
    assert events[0].data["group_id"] == "Y2FwaV9ncm91cDpDTElOSUM="
    assert fake.texts(user) == ["What's your name?"]  # the group message got no reply

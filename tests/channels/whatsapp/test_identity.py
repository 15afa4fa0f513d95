"""Usernames and business-scoped user ids (BSUID) under uvicorn, against the fake Graph API.

A user who hides their number is answered by BSUID; a user known by phone and by BSUID is
one conversation, whichever id a message carries; a changed number moves the conversation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import pytest

from examples.pizza import PizzaOrder
from examples.signup import Signup
from flowhq import RedisStore
from flowhq.channels.whatsapp import Status
from flowhq.testing.whatsapp import (
    Delivery,
    FakeGraphApi,
    button_reply,
    changed,
    delivery,
    list_reply,
    status,
    text,
    wamid,
)
from tests.channels.whatsapp.bot import load, post, say, serve_bot
from tests.channels.whatsapp.fixtures import PHONE_NUMBER_ID
from tests.support import wait_for

PHONE = "16505551234"
BSUID = "US.13491208655302741918"


def notice(system: dict[str, Any], **sender: str) -> bytes:
    """A system notice as Meta documents it: no ``contacts``, the sender as given."""
    item = {**sender, "id": wamid(), "timestamp": str(int(time.time())), "type": "system"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_NUMBER_ID},
        "messages": [{**item, "system": system}],
    }
    entry = {"id": "WABA", "changes": [{"field": "messages", "value": value}]}
    return orjson.dumps({"object": "whatsapp_business_account", "entry": [entry]})


async def address(redis_url: str, identifier: str) -> str | None:
    """Where the store says replies to ``identifier``'s conversation go."""
    store = RedisStore.from_url(redis_url)
    try:
        return await store.identity_address("whatsapp", identifier)
    finally:
        await store.close()


def reply_ids(message: Delivery) -> dict[str, str]:
    """Title -> id of the buttons or rows of an interactive message."""
    action = message.payload["interactive"]["action"]
    if "buttons" in action:
        return {b["reply"]["title"]: b["reply"]["id"] for b in action["buttons"]}
    return {row["title"]: row["id"] for section in action["sections"] for row in section["rows"]}


async def test_a_user_known_only_by_bsuid_orders_a_pizza(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "US.20000000000000000001"
    with serve_bot([PizzaOrder], redis_url, graph) as (url, _):
        await say(url, text(user, "hi"), username="@pizzafan")
        await wait_for(lambda: len(fake.messages(user)) == 1)
        menu = fake.messages(user)[0]
        assert menu.payload["recipient"] == user  # a BSUID goes as `recipient`, never `to`
        assert "to" not in menu.payload
        await say(url, list_reply(user, reply_ids(menu)["Veggie"], "Veggie"))
        await wait_for(lambda: len(fake.messages(user)) == 2)
        sizes = fake.messages(user)[1]
        await say(url, button_reply(user, reply_ids(sizes)["Large"], "Large"))
        await wait_for(lambda: len(fake.messages(user)) == 3)
        await say(url, text(user, "1"))
        await wait_for(lambda: len(fake.messages(user)) == 4)
        await say(url, text(user, "2 Side Road"))
        await wait_for(lambda: len(fake.messages(user)) == 5)
        confirm = fake.messages(user)[4]
        await say(url, button_reply(user, reply_ids(confirm)["yes"], "yes"))
        await wait_for(lambda: len(fake.messages(user)) == 6)
        assert fake.texts(user)[5] == "Ordered! Your Veggie is on its way to 2 Side Road."
    assert (await load(redis_url, user)).document is not None


async def test_a_user_who_adopts_a_username_mid_conversation_keeps_it(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    phone, bsuid = "16505550101", "US.20000000000000000101"
    with serve_bot([Signup], redis_url, graph) as (url, _):
        await say(url, text(phone, "hi"))  # before usernames: the number only
        await wait_for(lambda: fake.texts(phone) == ["What's your name?"])
        await say(url, text(phone, "Ann", user_id=bsuid))  # Meta adds the BSUID
        await wait_for(lambda: fake.texts(phone)[-1:] == ["Thanks Ann! Your email?"])
        # The user adopts a username and hides the number: same conversation, now by BSUID.
        await say(url, text(bsuid, "ann@example.com"), username="@ann")
        await wait_for(
            lambda: fake.texts(bsuid) == ["Create an account for Ann <ann@example.com>?"]
        )
    assert (await load(redis_url, bsuid)).document is None  # no second conversation
    assert (await load(redis_url, phone)).document is not None


async def test_a_changed_number_moves_the_conversation_and_its_replies(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    old, new, bsuid = "16505550201", "16505550299", "US.20000000000000000201"
    events = []
    with serve_bot([Signup], redis_url, graph, on_event=events.append) as (url, _):
        await say(url, text(old, "hi", user_id=bsuid))
        await wait_for(lambda: fake.texts(old) == ["What's your name?"])
        caplog.set_level(logging.INFO, logger="flowhq.channels.whatsapp")
        await say(url, changed(old, new_wa_id=new))
        await wait_for(lambda: len(events) == 1)
        await say(url, text(new, "Bo"))
        await wait_for(lambda: fake.texts(new) == ["Thanks Bo! Your email?"])
    assert fake.texts(old) == ["What's your name?"]
    assert (await load(redis_url, new)).document is None  # never forked
    assert new not in caplog.text  # numbers stay out of the log


async def test_a_changed_bsuid_of_a_username_user_moves_the_conversation(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    old, new = "US.20000000000000000301", "US.20000000000000000399"
    with serve_bot([Signup], redis_url, graph) as (url, _):
        await say(url, text(old, "hi"))
        await wait_for(lambda: fake.texts(old) == ["What's your name?"])
        await say(url, changed(old, new_user_id=new))
        await say(url, text(new, "Cy"))
        await wait_for(lambda: fake.texts(new) == ["Thanks Cy! Your email?"])
    assert (await load(redis_url, new)).document is None


async def test_a_number_change_as_meta_sends_it_moves_the_replies(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    old, new = "16505550401", "16505550499"
    old_bsuid, new_bsuid = "US.20000000000000000401", "US.20000000000000000499"
    events = []
    with serve_bot([Signup], redis_url, graph, on_event=events.append) as (url, _):
        await say(url, text(old, "hi", user_id=old_bsuid))
        await wait_for(lambda: fake.texts(old) == ["What's your name?"])
        system = {
            "body": f"User Dee changed from {old} to {new}",
            "wa_id": new,  # Meta's key: `new_wa_id` was the On-Premises API's
            "user_id": new_bsuid,
            "previous_user_id": old_bsuid,
            "type": "user_changed_number",
        }
        assert (await post(url, notice(system, **{"from": old}))).status_code == 200
        await wait_for(lambda: len(events) == 1)
        # Before the user writes from the new number, replies already go there.
        assert await address(redis_url, old) == f"{new}|{PHONE_NUMBER_ID}"
        await say(url, text(new, "Dee", user_id=new_bsuid))
        await wait_for(lambda: fake.texts(new) == ["Thanks Dee! Your email?"])
    assert fake.texts(old) == ["What's your name?"]
    assert events[0].kind == "system"
    assert (await load(redis_url, new)).document is None  # never forked


async def test_a_bsuid_change_named_only_by_the_previous_bsuid_keeps_the_conversation(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    old, new = "US.20000000000000000501", "US.20000000000000000599"
    events = []
    with serve_bot([Signup], redis_url, graph, on_event=events.append) as (url, _):
        await say(url, text(old, "hi"), username="@eve")
        await wait_for(lambda: fake.texts(old) == ["What's your name?"])
        system = {
            "body": f"User Eve changed from {old} to {new}",
            "user_id": new,
            "previous_user_id": old,
            "type": "user_changed_user_id",
        }
        # Meta names the user by nothing but `system.previous_user_id`.
        assert (await post(url, notice(system))).status_code == 200
        await wait_for(lambda: len(events) == 1)
        await say(url, text(new, "Eve"), username="@eve")
        await wait_for(lambda: fake.texts(new) == ["Thanks Eve! Your email?"])
    assert (events[0].identifier, events[0].data["system"]["user_id"]) == (old, new)
    assert (await load(redis_url, new)).document is None


async def test_a_status_without_recipient_id_reaches_the_callback(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    seen: list[Status] = []
    with serve_bot([Signup], redis_url, fake_graph[1], on_status=seen.append) as (url, _):
        body = delivery(([], [status("wamid.S1", BSUID, "read", callback_data="x")]))
        assert (await post(url, body)).status_code == 200
        await wait_for(lambda: len(seen) == 1)
    assert (seen[0].recipient, seen[0].recipient_user_id) == (BSUID, BSUID)
    assert seen[0].callback_data == "x"

"""Several business numbers in one app, under uvicorn against the fake Graph API."""

from __future__ import annotations

import asyncio
import logging

import pytest

from examples.signup import Signup
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.testing.whatsapp import FakeGraphApi, text
from tests.channels.whatsapp.bot import load, say, serve_bot
from tests.support import served, wait_for

SHOP, SUPPORT = "2000000000001", "2000000000002"
TOKENS = {SHOP: "EAAG-shop-token-1", SUPPORT: "EAAG-support-token-2"}


async def test_two_numbers_each_answer_from_their_own(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeGraphApi(access_token="unused", numbers=TOKENS)
    ann, bob = "15551242001", "15551242002"
    with served(fake) as graph:
        messenger = {"numbers": TOKENS, "phone_number_id": None, "access_token": None}
        with serve_bot([Signup], redis_url, graph, messenger=messenger) as (url, hq):
            await say(url, text(ann, "hi"), phone_number_id=SHOP)
            await say(url, text(bob, "hi"), phone_number_id=SUPPORT)
            await wait_for(lambda: len(fake.messages(ann)) == 1 and len(fake.messages(bob)) == 1)
            assert fake.messages(ann)[0].phone_number_id == SHOP
            assert fake.messages(bob)[0].phone_number_id == SUPPORT
            await say(url, text(ann, "Ann"), phone_number_id=SHOP)
            await wait_for(lambda: len(fake.messages(ann)) == 2)
            assert fake.messages(ann)[1].phone_number_id == SHOP
            await wait_for(lambda: len(fake.reads) == 3)  # each accepted: the right number
            caplog.set_level(logging.WARNING, logger="flowhq")
            await say(url, text("15551242003", "hi"), phone_number_id="2000000000999")
            await asyncio.sleep(0.5)
            assert isinstance(hq.messenger, WhatsAppMessenger)
            assert TOKENS[SHOP] not in repr(hq.messenger)
    assert fake.messages("15551242003") == []  # refused, not processed
    assert "does not serve" in caplog.text
    assert (await load(redis_url, "15551242003")).document is None
    assert all(token not in caplog.text for token in TOKENS.values())

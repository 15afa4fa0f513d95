"""Replies keep their order across processes, even when the one that failed to send died."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from flowhq import (
    ConversationKey,
    DeliveryError,
    Headquarters,
    InboundMessage,
    MemoryStore,
    OutboundMessage,
    RecordingMessenger,
    RedisStore,
    Store,
)
from flowhq.runtime.outbox import pending
from tests.flows import Age

KEY = ConversationKey("whatsapp", "+15550001")


class Down(RecordingMessenger):
    """The Graph API answering 500 for every try: the messenger gives up for now."""

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        raise DeliveryError("HTTP 500 after retries", permanent=False)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    chosen: Store = MemoryStore()
    if request.param == "redis":
        chosen = RedisStore.from_url(request.getfixturevalue("redis_url"))
    yield chosen
    await chosen.close()


async def test_the_next_process_sends_what_a_dead_one_failed_to_send_first(store: Store) -> None:
    first = Headquarters(flows=[Age], store=store, messenger=Down())
    outcome = await first.handle(InboundMessage(KEY.channel, KEY.identifier, "m1", "hi"))
    assert outcome.delivered is False
    del first  # SIGKILLed: what it remembered about its failed sends is gone
    messenger = RecordingMessenger()
    second = Headquarters(flows=[Age], store=store, messenger=messenger)
    await second.handle(InboundMessage(KEY.channel, KEY.identifier, "m2", "forty"))
    assert messenger.texts() == [
        "How old are you?",  # the first commit's reply, still owed, goes first
        "Please send a whole number.\nHow old are you?",
    ]
    loaded = await store.load(KEY)
    assert pending(loaded) == []
    await second.handle(InboundMessage(KEY.channel, KEY.identifier, "m3", "41"))
    assert (await store.load(KEY)).stalled == frozenset()  # gone with the delivered marks


async def test_a_stalled_mark_stays_until_its_replies_go_out(store: Store) -> None:
    hq = Headquarters(flows=[Age], store=store, messenger=Down())
    await hq.handle(InboundMessage(KEY.channel, KEY.identifier, "m1", "hi"))
    stalled = (await store.load(KEY)).stalled
    assert stalled == frozenset({1})
    await hq.handle(
        InboundMessage(KEY.channel, KEY.identifier, "m2", "x")
    )  # still down: both revisions wait
    assert (await store.load(KEY)).stalled == frozenset({1, 2})

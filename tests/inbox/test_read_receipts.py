"""Read receipts under load: a message whose chat already has a later one waiting in hand is
not marked read on its own; the later one's receipt marks both (WhatsApp marks the earlier
messages of a chat read with the latest)."""

from __future__ import annotations

import asyncio

import httpx
from redis import asyncio as aioredis

from flowhq import Flow, Headquarters, InboundMessage, MemoryStore, Prompt
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.channels.whatsapp.app import NOT_FOR_FLOWS
from flowhq.inbox import RedisStreamQueue
from flowhq.inbox.workers import update_handler
from flowhq.testing.whatsapp import FakeGraphApi

TOKEN, NUMBER, OTHER_NUMBER = "EAAG-test", "100000000000001", "100000000000002"


class Echo(Flow):
    name = "echo"
    ask = Prompt("Say something", initial=True)
    valid = ask.to(ask)


def message(user: str, n: int, *, kind: str = "text", number: str = NUMBER) -> InboundMessage:
    return InboundMessage(
        "whatsapp",
        user,
        f"wamid.{user}.{n}",
        text=str(n),
        kind=kind,
        data={"phone_number_id": number},
    )


async def marked_read(redis_url: str, updates: list[InboundMessage]) -> list[str]:
    """Handle ``updates`` (put at once, so they are in hand together); the ids marked read."""
    graph = FakeGraphApi(access_token=TOKEN, numbers={NUMBER: TOKEN, OTHER_NUMBER: TOKEN})
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=graph), base_url="http://g")
    messenger = WhatsAppMessenger(
        numbers={NUMBER: TOKEN, OTHER_NUMBER: TOKEN}, base_url="http://g", client=client
    )
    hq = Headquarters(flows=[Echo], store=MemoryStore(), messenger=messenger)
    redis = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(redis, shards=1, lease=2.0, block=50)
    for update in updates:
        messenger.received(update)
    await queue.put(updates)
    handle = update_handler(hq, not_for_flows=NOT_FOR_FLOWS)
    stop = asyncio.Event()
    handled = 0

    async def counting(update: InboundMessage) -> bool:
        nonlocal handled
        result = await handle(update)
        handled += 1
        if handled == len(updates):
            stop.set()
        return result

    await asyncio.wait_for(queue.run(counting, stop), timeout=30)
    await redis.aclose()
    await hq.aclose()
    return [read.message_id for read in graph.reads]


async def test_a_user_who_types_fast_gets_one_receipt_for_the_latest_message(
    redis_url: str,
) -> None:
    fast = [message("15550000001", n) for n in range(3)]
    reads = await marked_read(redis_url, [*fast, message("15550000002", 0)])
    assert sorted(reads) == ["wamid.15550000001.2", "wamid.15550000002.0"]


async def test_a_reaction_behind_a_message_does_not_take_its_receipt(redis_url: str) -> None:
    """A reaction never reaches a flow and is never marked read: the message before it is."""
    user = "15550000003"
    reads = await marked_read(redis_url, [message(user, 0), message(user, 1, kind="reaction")])
    assert reads == [f"wamid.{user}.0"]


async def test_messages_to_two_business_numbers_are_two_chats(redis_url: str) -> None:
    user = "15550000004"
    updates = [message(user, 0), message(user, 1, number=OTHER_NUMBER)]
    reads = await marked_read(redis_url, updates)
    assert sorted(reads) == [f"wamid.{user}.0", f"wamid.{user}.1"]

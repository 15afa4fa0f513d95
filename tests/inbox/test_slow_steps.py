"""A slow step holds up its own user only: the other users of its shard go on, and the slow
user's next messages wait for it, in order. For both queues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from flowhq import InboundMessage
from flowhq.inbox import MemoryQueue, RedisStreamQueue, UpdateQueue

SLOW, OTHER = "15550000001", "15550000002"


@pytest.fixture(params=["memory", "redis"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[UpdateQueue]:
    """One shard, so both users share it."""
    if request.param == "memory":
        yield MemoryQueue(shards=1)
        return
    client = aioredis.from_url(request.getfixturevalue("redis_url"))
    yield RedisStreamQueue(client, shards=1, lease=1.0, block=50)
    await client.aclose()


def update(user: str, n: int) -> InboundMessage:
    return InboundMessage("whatsapp", user, f"wamid.{user}.{n}", text=str(n))


async def test_one_slow_step_holds_up_its_own_user_only(queue: UpdateQueue) -> None:
    handled: list[tuple[str, str]] = []
    release = asyncio.Event()
    stop = asyncio.Event()
    changed = asyncio.Condition()

    async def handler(message: InboundMessage) -> bool:
        if (message.identifier, message.text) == (SLOW, "1"):
            await release.wait()  # a slow step: a 2 s API call, say
        async with changed:
            handled.append((message.identifier, message.text or ""))
            changed.notify_all()
        return True

    async def until(count: int) -> None:
        async with changed:
            await asyncio.wait_for(changed.wait_for(lambda: len(handled) >= count), timeout=10)

    runner = asyncio.create_task(queue.run(handler, stop))
    await queue.put([update(SLOW, 1), update(OTHER, 1)])
    await until(1)
    # Read after the slow step began: neither a batch nor a shard waits for it.
    await queue.put([update(SLOW, 2), update(OTHER, 2), update(OTHER, 3)])
    await until(3)
    assert handled == [(OTHER, "1"), (OTHER, "2"), (OTHER, "3")]  # the slow user's 2 waits

    release.set()
    await until(5)
    stop.set()
    await asyncio.wait_for(runner, timeout=10)
    assert handled[3:] == [(SLOW, "1"), (SLOW, "2")]

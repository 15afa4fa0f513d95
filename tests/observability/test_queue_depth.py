"""The update queues' depth (pending updates and the oldest one's age per shard)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from flowhq.inbox import MemoryQueue, RedisStreamQueue, shard_of
from flowhq.inbox.workers import report_depth
from flowhq.messaging.types import InboundMessage
from flowhq.observability import Event, QueueDepth


def update(user: str, n: int) -> InboundMessage:
    return InboundMessage("whatsapp", user, f"{user}-{n}", "hi")


async def test_a_redis_queue_reports_pending_updates_and_the_oldest_age(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    queue = RedisStreamQueue(client, prefix="depth", shards=2)
    assert await queue.depth() == [(0, 0, 0.0), (1, 0, 0.0)]
    users = ["+15550001", "+15550002", "+15550003"]
    await queue.put([update(user, 1) for user in users])
    await asyncio.sleep(0.05)
    events: list[Event] = []

    class Recorder:
        def observe(self, event: Event) -> None:
            events.append(event)

    await report_depth(queue, [Recorder()])
    expected = {0: 0, 1: 0}
    for user in users:
        expected[shard_of(user, 2)] += 1
    assert {e.shard: e.pending for e in events if isinstance(e, QueueDepth)} == expected
    ages = [e.oldest for e in events if isinstance(e, QueueDepth) and e.pending]
    assert all(0.04 <= age < 60 for age in ages)
    await client.aclose()


async def test_the_trace_context_rides_beside_the_update(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    queue = RedisStreamQueue(client, prefix="trace", shards=1, lease=1)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    sent = InboundMessage("whatsapp", "+15550001", "m1", "hi", traceparent=parent)
    await queue.put([sent])
    fields = (await client.xrange(queue.stream(0)))[0][1]
    assert b"traceparent" not in fields[b"m"]  # any version of the worker reads "m"
    seen: list[InboundMessage] = []
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        seen.append(message)
        stop.set()
        return True

    await asyncio.wait_for(queue.run(handler, stop), 10)
    assert seen == [sent]
    assert seen[0].traceparent == parent
    await client.aclose()


async def test_a_memory_queue_reports_its_depth() -> None:
    queue = MemoryQueue(shards=1)
    await queue.put([update("+15550001", 1), update("+15550001", 2)])
    ((shard, pending, oldest),) = await queue.depth()
    assert (shard, pending) == (0, 2)
    assert oldest >= 0

"""RedisStreamQueue on a real redis-server and a real Redis Cluster: order per user, shards
spread over the cluster's masters, and a lapsed lease taken back without handling twice."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

import pytest
from redis import asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from flowhq import InboundMessage
from flowhq.errors import StoreUnavailableError
from flowhq.inbox import RedisStreamQueue
from flowhq.inbox.queue import encode

USERS = [f"1555{n:07d}" for n in range(24)]


def updates(per_user: int) -> list[InboundMessage]:
    """``per_user`` text messages from each user, interleaved as WhatsApp would send them."""
    return [
        InboundMessage("whatsapp", user, f"wamid.{user}.{n}", text=str(n))
        for n in range(per_user)
        for user in USERS
    ]


async def handle_all(queue: RedisStreamQueue, expected: int) -> dict[str, list[str]]:
    """Run the queue until ``expected`` updates were handled; what each user's were."""
    seen: dict[str, list[str]] = defaultdict(list)
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        seen[message.identifier].append(message.text or "")
        if sum(map(len, seen.values())) >= expected:
            stop.set()
        return True

    await asyncio.wait_for(queue.run(handler, stop), timeout=30)
    return seen


async def test_every_update_is_handled_once_in_order_per_user(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=4, lease=1.0, block=50)
    await queue.put(updates(5))

    seen = await handle_all(queue, 5 * len(USERS))

    assert dict(seen) == {user: ["0", "1", "2", "3", "4"] for user in USERS}
    assert await queue.pending() == 0
    await client.aclose()


async def test_the_queue_runs_on_a_cluster_with_shards_on_every_master(cluster_url: str) -> None:
    client = RedisCluster.from_url(cluster_url)
    queue = RedisStreamQueue(client, shards=8, lease=1.0, block=50)
    await queue.put(updates(3))

    seen = await handle_all(queue, 3 * len(USERS))

    assert all(texts == ["0", "1", "2"] for texts in seen.values())
    assert len(seen) == len(USERS)
    masters = {client.get_node_from_key(queue.stream(shard)).name for shard in range(8)}
    assert len(masters) == 3
    assert await queue.pending() == 0
    await client.aclose()


async def test_a_lease_that_lapsed_while_busy_is_taken_back_without_handling_again(
    redis_url: str,
) -> None:
    """An event loop too busy to renew in time must not cancel the work in flight and hand
    the same updates to the handler again once it takes the shard back."""
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=1, lease=0.3, block=50)
    await queue.put(updates(1)[:2])
    handled: Counter[str] = Counter()
    both_in_hand = asyncio.Event()
    release = asyncio.Event()
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        handled[message.message_id] += 1
        if sum(handled.values()) == 2:
            both_in_hand.set()
        await release.wait()  # a slow step, long past the lease
        if sum(handled.values()) >= 2:
            stop.set()
        return True

    runner = asyncio.create_task(queue.run(handler, stop))
    await asyncio.wait_for(both_in_hand.wait(), timeout=10)
    await client.delete(queue._lease_key(0))  # lapsed: nobody renewed it in time
    await asyncio.sleep(0.5)  # more than one renewal period
    assert await client.get(queue._lease_key(0)) == queue.worker.encode()
    release.set()
    await asyncio.wait_for(runner, timeout=10)

    assert handled == Counter({f"wamid.{USERS[0]}.0": 1, f"wamid.{USERS[1]}.0": 1})
    assert await queue.pending() == 0
    await client.aclose()


async def test_an_update_that_cannot_be_recorded_is_left_out_alone(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Valid JSON that nothing can store (a lone surrogate, a 70-bit integer) must not make
    the whole delivery fail: Meta would retry it, the good messages with it, for days."""
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=2)
    await queue.put(
        [
            InboundMessage("whatsapp", USERS[0], "wamid.surrogate", text="hi \ud800"),
            InboundMessage("whatsapp", USERS[1], "wamid.huge", kind="order", data={"n": 2**70}),
            InboundMessage("whatsapp", USERS[2], "wamid.good", text="hi"),
        ]
    )
    assert await queue.pending() == 1
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR"]
    assert "'wamid.surrogate'" in caplog.text
    assert "'wamid.huge'" in caplog.text
    await client.aclose()


async def test_entries_a_stale_holder_read_after_the_take_over_are_claimed_and_kept_in_order(
    redis_url: str,
) -> None:
    """A worker whose loop stalled past its lease may still read once it wakes: the new
    holder must claim what it read (not only at take-over) and handle it before anything
    newer of the same user."""
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=1, lease=1.0, block=50)
    user = USERS[0]
    seen: list[str] = []
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        seen.append(message.text or "")
        if len(seen) == 3:
            stop.set()
        return True

    runner = asyncio.create_task(queue.run(handler, stop))
    await wait_until(lambda: client.get(queue._lease_key(0)))  # taken over, nothing pending
    await asyncio.sleep(0.2)
    # Recorded and at once read by a stale holder, as reads went before fencing (one
    # transaction: the current holder cannot take it first).
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(
            queue.stream(0), {"m": encode(InboundMessage("whatsapp", user, "wamid.1", text="1"))}
        )
        pipe.xreadgroup("flowhq", "stale-worker", {queue.stream(0): ">"})
        stale = (await pipe.execute())[1]
    await queue.put(
        [
            InboundMessage("whatsapp", user, "wamid.2", text="2"),
            InboundMessage("whatsapp", user, "wamid.3", text="3"),
        ]
    )
    await asyncio.wait_for(runner, timeout=10)

    assert len(stale[0][1]) == 1
    assert seen == ["1", "2", "3"]
    assert await queue.pending() == 0
    await client.aclose()


async def test_a_worker_that_lost_its_lease_reads_nothing_more(redis_url: str) -> None:
    """Fencing: after another worker took the shard, the old holder takes no new entry."""
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=1, lease=1.0, block=50)
    handled: list[str] = []
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        handled.append(message.message_id)
        return True

    runner = asyncio.create_task(queue.run(handler, stop))
    await wait_until(lambda: client.get(queue._lease_key(0)))
    await asyncio.sleep(0.2)
    await client.set(queue._lease_key(0), "another-worker", px=60_000)  # taken over
    await queue.put([InboundMessage("whatsapp", USERS[0], "wamid.late", text="late")])
    await asyncio.sleep(1.0)  # several reads and one renewal period of the old holder
    pending = await client.xpending(queue.stream(0), "flowhq")
    stop.set()
    await asyncio.wait_for(runner, timeout=10)

    assert handled == []
    assert pending["pending"] == 0  # not even read: the new holder gets it whole
    assert await queue.pending() == 1
    await client.aclose()


async def wait_until(check: Callable[[], Awaitable[object]], seconds: float = 10.0) -> None:
    """Wait until the awaited ``check()`` is true; fail after ``seconds``."""
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting")


async def test_deliveries_posted_at_once_are_all_recorded_in_order_per_user(
    redis_url: str,
) -> None:
    """Thirty POSTs at once are all recorded; each user's come out in posting order."""
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=2, lease=2.0, block=50)
    users = [f"1555{n:07d}" for n in range(10)]

    async def post(user: str) -> None:
        for n in range(3):  # one user's deliveries, one after the other, as Meta sends them
            await queue.put([InboundMessage("whatsapp", user, f"wamid.{user}.{n}", text=str(n))])

    await asyncio.gather(*(post(user) for user in users))
    seen: dict[str, list[str]] = {}
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        seen.setdefault(message.identifier, []).append(message.text or "")
        if sum(map(len, seen.values())) == 3 * len(users):
            stop.set()
        return True

    await asyncio.wait_for(queue.run(handler, stop), timeout=30)
    assert seen == {user: ["0", "1", "2"] for user in users}
    await client.aclose()


async def test_every_delivery_posted_while_redis_is_down_is_refused(unused_tcp_port: int) -> None:
    client = aioredis.from_url(f"redis://127.0.0.1:{unused_tcp_port}/0", socket_timeout=1)
    queue = RedisStreamQueue(client, shards=2)
    posts = [
        queue.put([InboundMessage("whatsapp", f"1555{n:07d}", f"wamid.{n}")]) for n in range(5)
    ]
    results = await asyncio.gather(*posts, return_exceptions=True)
    assert [type(result) for result in results] == [StoreUnavailableError] * 5
    await client.aclose()

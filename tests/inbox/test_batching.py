"""Group commit of acknowledgements: what arrives while a batch is in flight goes in the next."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest
from redis import asyncio as aioredis

from flowhq import InboundMessage
from flowhq.errors import StoreUnavailableError
from flowhq.inbox import RedisStreamQueue
from flowhq.inbox.batching import Batched


class Recorder:
    """A ``send`` that records its batches and waits for ``release`` before answering."""

    def __init__(self) -> None:
        self.batches: list[list[Hashable]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self, items: list[Hashable]) -> None:
        self.batches.append(items)
        await self.release.wait()
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error


async def test_the_first_call_goes_alone_and_those_made_meanwhile_go_together() -> None:
    send = Recorder()
    batched = Batched(send)
    first = asyncio.create_task(batched("a"))
    await asyncio.sleep(0)
    others = [asyncio.create_task(batched(item)) for item in "bcd"]
    await asyncio.sleep(0)
    assert send.batches == [["a"]]  # b, c, d wait for the batch in flight
    assert not first.done()
    send.release.set()
    await asyncio.gather(first, *others)
    assert send.batches == [["a"], ["b", "c", "d"]]


async def test_a_failed_batch_raises_in_each_of_its_callers_and_the_next_batch_goes_out() -> None:
    send = Recorder()
    send.fail = ConnectionError("down")
    send.release.set()
    batched = Batched(send)
    results = await asyncio.gather(batched("a"), batched("b"), return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError, ConnectionError]
    await batched("c")
    assert send.batches == [["a", "b"], ["c"]]


async def test_a_cancelled_caller_leaves_the_others_batch_alone() -> None:
    send = Recorder()
    batched = Batched(send)
    gone = asyncio.create_task(batched("a"))
    stays = asyncio.create_task(batched("b"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    send.release.set()
    await stays
    assert gone.cancelled()
    assert send.batches == [["a", "b"]]


async def test_callers_are_not_left_waiting_when_the_sending_is_cancelled() -> None:
    send = Recorder()
    batched = Batched(send)
    first = asyncio.create_task(batched("a"))
    await asyncio.sleep(0)
    second = asyncio.create_task(batched("b"))  # waits for the next batch
    await asyncio.sleep(0)
    sending = batched._sending
    assert sending is not None
    sending.cancel()
    for caller in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, timeout=5)
    send.release.set()
    await batched("c")  # a fresh batch still goes out
    assert send.batches[-1] == ["c"]


async def test_updates_handled_together_are_acknowledged_in_fewer_round_trips(
    redis_url: str,
) -> None:
    """Forty conversations' updates finish together: every one is acknowledged (nothing
    pending), with fewer XACKs than updates."""
    client = aioredis.from_url(redis_url)
    queue = RedisStreamQueue(client, shards=1, lease=2.0, block=50)
    users = [f"1555{n:07d}" for n in range(40)]
    await queue.put([InboundMessage("whatsapp", user, f"wamid.{user}") for user in users])
    await client.config_resetstat()
    handled: list[str] = []
    stop = asyncio.Event()

    async def handler(message: InboundMessage) -> bool:
        await asyncio.sleep(0.01)  # the steps overlap, as they do under load
        handled.append(message.identifier)
        if len(handled) == len(users):
            stop.set()
        return True

    await asyncio.wait_for(queue.run(handler, stop), timeout=30)
    stats = await client.info("commandstats")
    assert sorted(handled) == users
    assert await queue.pending() == 0
    assert stats["cmdstat_xack"]["calls"] < len(users)
    await client.aclose()


async def test_deliveries_posted_at_once_are_all_recorded_in_order_per_user(
    redis_url: str,
) -> None:
    """Thirty POSTs at once share XADD round trips; each user's come out in posting order."""
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

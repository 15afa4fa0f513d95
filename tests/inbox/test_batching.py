"""Group commit of acknowledgements: what arrives while a batch is in flight goes in the next."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest
from redis import asyncio as aioredis

from flowhq import InboundMessage
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

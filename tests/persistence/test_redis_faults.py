"""Faults with real processes: Redis killed and restarted, Redis down, a crash before send."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import pytest

from flowhq import (
    ConversationKey,
    DeliveryOptions,
    Headquarters,
    InboundMessage,
    OutboundMessage,
    RecordingMessenger,
    RedisStore,
    StoreUnavailableError,
)
from tests.persistence.test_redis_concurrency import Counter
from tests.redis_servers import RedisServer

KEY = ConversationKey("whatsapp", "+15550001")


def message(n: int) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", f"m{n}", f"text {n}")


async def test_kill_9_mid_stream_loses_no_acknowledged_message(
    fresh_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = RedisStore.from_url(fresh_redis.url, timeout=0.5, retries=1)
    hq = Headquarters(flows=[Counter], store=store)
    await hq.handle(InboundMessage("whatsapp", "+15550001", "start", "hi"))
    acknowledged: list[int] = []
    failed: list[int] = []
    forty = asyncio.Event()

    async def stream() -> None:
        for n in range(200):
            try:
                await hq.handle(message(n))
                acknowledged.append(n)
                if len(acknowledged) == 40:
                    forty.set()
            except StoreUnavailableError:
                failed.append(n)
                await asyncio.sleep(0.05)  # like a webhook sender backing off
            await asyncio.sleep(0.001)

    async def crash() -> None:
        await forty.wait()
        fresh_redis.kill()  # SIGKILL mid-stream; AOF with appendfsync always
        await asyncio.sleep(0.3)
        fresh_redis.start()

    await asyncio.gather(stream(), crash())
    assert failed, "the kill should have interrupted some messages"
    assert len(acknowledged) > 40, "processing should resume by itself after the restart"
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.current.values["count"] >= len(acknowledged)
    # Retry the ones that raised: each is processed once (one that committed before the
    # connection broke comes back as a duplicate). Only they are retried, so a final count
    # of 200 means no acknowledged message was lost in the crash.
    outcomes = [await hq.handle(message(n)) for n in failed]
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.current.values["count"] == 200
    assert loaded.document.validation.attempts == {"ask": 200}
    print(
        f"\nkill -9 after 40: {len(failed)} messages raised, "
        f"{sum(o.duplicate for o in outcomes)} of them had committed before the crash"
    )
    await store.close()


async def test_redis_down_then_back(fresh_redis: RedisServer) -> None:
    store = RedisStore.from_url(fresh_redis.url, timeout=0.5, retries=2)
    hq = Headquarters(flows=[Counter], store=store)
    await hq.handle(InboundMessage("whatsapp", "+15550001", "start", "hi"))
    fresh_redis.stop()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError):
        await hq.handle(message(1))
    elapsed = time.monotonic() - started
    assert elapsed < 5
    print(f"\nStoreUnavailableError after {elapsed:.2f}s with timeout=0.5, retries=2")
    fresh_redis.start()
    outcome = await hq.handle(message(1))
    assert outcome.revision == 2
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.current.values["count"] == 1
    await store.close()


class Killed(BaseException):
    """The process dies: nothing of it runs any more (no handler, no mark)."""


class DiesOnce(RecordingMessenger):
    """Dies like a process killed between commit and send, once."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = True

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        if self.dead:
            self.dead = False
            raise Killed
        await super().send(key, messages)


async def test_crash_between_commit_and_delivery(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = RedisStore.from_url(redis_url)
    crashed = Headquarters(flows=[Counter], store=store, messenger=DiesOnce())
    with pytest.raises(Killed):
        await crashed.handle(InboundMessage("whatsapp", "+15550001", "start", "hi"))
    # A new process knows nothing of the failure, so it waits for `redelivery_after` (30 s).
    messenger = RecordingMessenger()
    fresh = Headquarters(flows=[Counter], store=store, messenger=messenger)
    assert await fresh.redeliver() == 0  # too young: the sender may still be sending
    assert await fresh.redeliver(older_than=0) == 1  # as after a restart
    assert messenger.texts() == ["Say something"]
    assert await fresh.redeliver(older_than=0) == 0  # marked delivered
    await store.close()


async def test_next_message_resends_a_dead_senders_replies(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = RedisStore.from_url(redis_url)
    with pytest.raises(Killed):
        await Headquarters(flows=[Counter], store=store, messenger=DiesOnce()).handle(
            InboundMessage("whatsapp", "+15550001", "start", "hi")
        )
    messenger = RecordingMessenger()
    fresh = Headquarters(
        flows=[Counter],
        store=store,
        messenger=messenger,
        delivery=DeliveryOptions(redelivery_after=0),
    )
    await fresh.handle(message(1))
    assert messenger.texts() == ["Say something", "Say something"]  # the lost one first
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.delivered == {1, 2}
    await store.close()


async def test_hung_redis_times_out(fresh_redis: RedisServer) -> None:
    """A server that stops answering (SIGSTOP) is reported within timeout x attempts."""
    import os
    import signal

    store = RedisStore.from_url(fresh_redis.url, timeout=0.3, retries=1)
    hq = Headquarters(flows=[Counter], store=store)
    await hq.handle(InboundMessage("whatsapp", "+15550001", "start", "hi"))
    assert fresh_redis.process is not None
    os.kill(fresh_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await hq.handle(message(1))
        elapsed = time.monotonic() - started
    finally:
        os.kill(fresh_redis.process.pid, signal.SIGCONT)
    assert elapsed < 3
    print(f"\nhung Redis: StoreUnavailableError after {elapsed:.2f}s (timeout=0.3, retries=1)")
    outcome = await hq.handle(message(2))
    # The hung commit may have been written before the stop and run after it resumed: the
    # client cannot know (that is what it was told with StoreUnavailableError).
    assert outcome.revision in (2, 3)
    assert not outcome.duplicate
    await store.close()

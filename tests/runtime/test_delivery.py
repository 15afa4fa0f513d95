"""Delivery: replies are never stranded by a crash or a cancelled send, what was sent is never
sent again, and the memory of failed sends is bounded. On a real redis-server where it counts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from examples.signup import Signup
from flowhq import (
    ConversationKey,
    DeliveryOptions,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    RecordingMessenger,
    RedisStore,
)
from flowhq.errors import DeliveryError
from flowhq.messaging.types import OutboundMessage
from flowhq.persistence.store import Loaded
from flowhq.testing import no_api
from tests.flows import Age

KEY = ConversationKey("whatsapp", "+15550001")


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


# -- replies are never stranded ---------------------------------------------------------


class Gate:
    """A messenger whose sends wait until the test opens the gate (or fail, or hang)."""

    def __init__(self) -> None:
        self.sent: list[tuple[ConversationKey, str]] = []
        self.hang = False

    async def send(self, key: ConversationKey, messages: object) -> None:
        if self.hang:
            await asyncio.Event().wait()  # until cancelled
        self.sent.extend((key, m.text) for m in messages)  # type: ignore[attr-defined]


async def test_a_retried_webhook_delivers_the_replies_a_crash_left(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    crashed = Gate()
    crashed.hang = True
    first = Headquarters(flows=[Age], store=store, messenger=crashed)
    task = asyncio.create_task(first.handle(msg("m1")))
    await asyncio.sleep(0.2)  # committed, stuck in the send: the process "dies" now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await store.load(KEY)).revision == 1
    messenger = Gate()
    second = Headquarters(
        flows=[Age],
        store=store,
        messenger=messenger,
        delivery=DeliveryOptions(duplicate_grace=0.1),
    )
    outcome = await second.handle(msg("m1"))  # Meta retries the webhook elsewhere
    assert outcome.duplicate
    assert outcome.delivered is True
    assert [text for _, text in messenger.sent] == ["How old are you?"]
    assert await second.redeliver(older_than=0) == 0  # marked delivered
    await store.close()


async def test_a_cancelled_send_goes_out_first_next_time(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    messenger = Gate()
    hq = Headquarters(flows=[Age], store=store, messenger=messenger)
    messenger.hang = True
    task = asyncio.create_task(hq.handle(msg("m1")))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    messenger.hang = False
    await hq.handle(msg("m2", "30"))
    assert [text for _, text in messenger.sent] == ["How old are you?", "Welcome, grown-up."]
    await store.close()


async def test_failed_sends_are_forgotten_once_delivered_and_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flowhq.runtime import delivery as _delivery

    caplog.set_level(logging.CRITICAL, logger="flowhq")

    class Flaky(RecordingMessenger):
        fail = True

        async def send(self, key: ConversationKey, messages: object) -> None:
            if self.fail:
                raise ConnectionError("down")
            await super().send(key, messages)  # type: ignore[arg-type]

    messenger = Flaky()
    hq = Headquarters(flows=[Age], store=MemoryStore(), messenger=messenger)
    delivery = hq._delivery
    assert delivery is not None
    for n in range(30):
        await hq.handle(InboundMessage("whatsapp", f"+1{n}", "m1", "hi"))
    assert delivery.remembered == 30
    messenger.fail = False
    assert await hq.redeliver(older_than=None) == 30  # failed here: sent at once
    assert delivery.remembered == 0
    limit = _delivery.FAILED_LIMIT
    for n in range(limit + 10):
        delivery._remember(ConversationKey("x", str(n)), {1})
    assert delivery.remembered == limit


# -- delivery bookkeeping and the per-process cache -----------------------------------------


class TwoThenBye(Flow):
    """Two replies in the first step (a message and a question), one after the answer."""

    name = "two_then_bye"
    one = Message("one", initial=True)
    two = Prompt("two?")
    bye = Message("bye", final=True)
    done = one.to(two)
    valid = two.to(bye)


class Sends(RecordingMessenger):
    """Records what it sends; ``sent_then_fail`` makes the next batch stop after n messages;
    ``gate`` (when set) holds every send until it opens, ``waiting`` says one is held."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_then_fail: int | None = None
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        if self.sent_then_fail is not None:
            count, self.sent_then_fail = self.sent_then_fail, None
            await super().send(key, messages[:count])
            raise DeliveryError("throttled", sent=count)
        await super().send(key, messages)


async def test_a_partly_delivered_commit_does_not_send_its_first_replies_again(
    redis_url: str,
) -> None:
    store = RedisStore.from_url(redis_url)
    messenger = Sends()
    hq = Headquarters(flows=[TwoThenBye], store=store, messenger=messenger)
    messenger.sent_then_fail = 1
    await hq.handle(msg("m1"))
    assert messenger.texts() == ["one"]  # "two?" stays in the outbox
    await hq.handle(msg("m2", "an answer"))
    assert messenger.texts() == ["one", "two?", "bye"]
    await store.close()


async def test_replies_another_process_marked_are_not_sent_again_from_the_cache(
    redis_url: str,
) -> None:
    """B commits and is still sending when A commits after it; B then marks its replies.
    A's cached copy must not make A send B's replies once they count as overdue."""
    store_a, store_b = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    sends_a, sends_b = Sends(), Sends()
    a, b = (
        Headquarters(
            flows=[Signup],
            store=store,
            messenger=sends,
            api=no_api(),
            delivery=DeliveryOptions(redelivery_after=0.3),
        )
        for store, sends in ((store_a, sends_a), (store_b, sends_b))
    )
    await a.handle(msg("m1"))  # "What's your name?"
    sends_b.gate = asyncio.Event()
    b_step = asyncio.create_task(b.handle(msg("m2", "Ann")))  # committed, then held at send
    await asyncio.wait_for(sends_b.waiting.wait(), timeout=10)
    await a.handle(msg("m3", "ann@example.com"))  # A commits revision 3 and caches it
    sends_b.gate.set()
    await b_step  # B sends "Thanks Ann! Your email?" and marks revision 2 delivered
    await asyncio.sleep(0.4)  # revision 2 is now older than redelivery_after
    await a.handle(msg("m4", "no"))
    everything = sends_a.texts() + sends_b.texts()
    assert everything.count("Thanks Ann! Your email?") == 1
    await store_a.close()
    await store_b.close()


async def test_a_duplicate_whose_replies_went_out_is_answered_without_another_load(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(
        flows=[Signup], store=store, messenger=RecordingMessenger(), api=no_api(), cache=False
    )
    await hq.handle(msg("m1"))
    loads = 0
    load = store.load

    async def counting(key: ConversationKey) -> Loaded:
        nonlocal loads
        loads += 1
        return await load(key)

    monkeypatch.setattr(store, "load", counting)
    outcome = await hq.handle(msg("m1"))  # Meta retries a webhook that was answered
    assert outcome.duplicate
    assert outcome.delivered
    assert loads == 1
    await store.close()

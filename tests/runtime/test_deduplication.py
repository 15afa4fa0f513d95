"""A delivery the channel replays is processed once, however many messages came since, and
however many handles of it run at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from flowhq import (
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    Limits,
    MemoryStore,
    Message,
    Prompt,
    RecordingMessenger,
    RedisStore,
    Store,
)
from flowhq.testing import ManualClock
from tests.flows import Age

KEY = ConversationKey("whatsapp", "+15550001")


class Echo(Flow):
    """Answers every message: a replay would show as an extra answer."""

    ask = Prompt("Say something", initial=True)
    said = Message("You said {ask}.")
    valid = ask.to(said)
    done = said.to(ask)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    chosen: Store = MemoryStore()
    if request.param == "redis":
        chosen = RedisStore.from_url(request.getfixturevalue("redis_url"))
    yield chosen
    await chosen.close()


def message(n: int, clock: ManualClock, *, sent: float | None = None) -> InboundMessage:
    at = clock.now.timestamp() if sent is None else sent
    return InboundMessage("whatsapp", "+15550001", f"wamid.{n}", f"m{n}", timestamp=at)


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


async def test_a_replay_after_seventy_newer_messages_is_a_duplicate(store: Store) -> None:
    clock = ManualClock()
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Echo], store=store, messenger=messenger, clock=clock)
    first = message(0, clock)
    await hq.handle(first)
    for n in range(1, 71):
        clock.advance(60)
        await hq.handle(message(n, clock))
    sent = len(messenger.sent)
    revision = (await store.load(KEY)).revision
    clock.advance(timedelta(days=2))
    outcome = await hq.handle(first)  # Meta retries the first delivery
    assert outcome.duplicate
    assert len(messenger.sent) == sent
    assert (await store.load(KEY)).revision == revision


async def test_a_delivery_older_than_the_window_is_refused(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    hq = Headquarters(flows=[Echo], store=store, clock=clock, limits=Limits(dedup_window=24 * 3600))
    old = message(1, clock, sent=clock.now.timestamp() - 25 * 3600)
    with caplog.at_level(logging.WARNING):
        outcome = await hq.handle(old)
    assert outcome.rejected
    assert outcome.replies == []
    assert "older than the deduplication window" in caplog.text
    assert (await store.load(KEY)).document is None


async def test_concurrent_handles_of_one_message_process_it_once() -> None:
    hq = Headquarters(flows=[Age], store=MemoryStore())
    await hq.handle(msg("m1"))
    outcomes = await asyncio.gather(*(hq.handle(msg("m2", "30")) for _ in range(5)))
    assert sum(not o.duplicate for o in outcomes) == 1

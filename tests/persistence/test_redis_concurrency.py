"""Real contention on one conversation: two Headquarters, two pools, one Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from flowhq import (
    Action,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    Limits,
    Prompt,
    RecordingMessenger,
    StateManager,
)
from flowhq.persistence.redis import RedisStore

KEY = ConversationKey("whatsapp", "+15550001")


def increment(state_manager: StateManager) -> str:
    state_manager.save_value("count", (state_manager.get_value("count") or 0) + 1)
    return "done"


class Counter(Flow):
    ask = Prompt("Say something", save_as="said", initial=True)
    count = Action(increment, saves=("count",))
    valid = ask.to(count)
    done = count.to(ask)


@pytest.fixture
async def two_stores(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    stores = (RedisStore.from_url(redis_url), RedisStore.from_url(redis_url))
    yield stores
    for store in stores:
        await store.close()


async def test_fifty_concurrent_messages_across_two_instances(
    two_stores: tuple[RedisStore, RedisStore], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flowhq.headquarters")
    messengers = (RecordingMessenger(), RecordingMessenger())
    hqs = [
        Headquarters(
            flows=[Counter], store=store, messenger=messenger, limits=Limits(max_attempts=50)
        )
        for store, messenger in zip(two_stores, messengers, strict=True)
    ]
    await hqs[0].handle(InboundMessage("whatsapp", "+15550001", "start", "hi"))
    outcomes = await asyncio.gather(
        *(
            hqs[n % 2].handle(InboundMessage("whatsapp", "+15550001", f"m{n}", f"text {n}"))
            for n in range(50)
        )
    )
    loaded = await two_stores[0].load(KEY)
    document = loaded.document
    assert document is not None
    assert loaded.revision == 51
    assert document.current.values["count"] == 50  # every message processed exactly once
    assert document.validation.attempts == {"ask": 50}
    assert sorted(o.revision for o in outcomes) == list(range(2, 52))  # a serial order
    assert not any(o.duplicate for o in outcomes)
    sent = messengers[0].texts() + messengers[1].texts()
    assert sent == ["Say something"] * 51  # no reply lost or duplicated
    conflicts = sum("conflict on" in r.getMessage() for r in caplog.records)
    print(f"\n{conflicts} commit conflicts for 50 messages across two instances")


async def test_same_message_id_ten_times_concurrently(
    two_stores: tuple[RedisStore, RedisStore],
) -> None:
    hqs = [Headquarters(flows=[Counter], store=store) for store in two_stores]
    await hqs[0].handle(InboundMessage("whatsapp", "+15550001", "start", "hi"))
    outcomes = await asyncio.gather(
        *(hqs[n % 2].handle(InboundMessage("whatsapp", "+15550001", "dup", "x")) for n in range(10))
    )
    assert sum(not o.duplicate for o in outcomes) == 1
    loaded = await two_stores[1].load(KEY)
    assert loaded.document is not None
    assert loaded.document.current.values["count"] == 1
    assert loaded.revision == 2

"""The identity mapping every store keeps: several ids of one user, one conversation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from flowhq import MemoryStore, Store
from tests.persistence.test_store_contract import connect

PHONE = "16505551234"
BSUID = "US.13491208655302741918"


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = connect(request, request.param)
    yield redis_store
    await redis_store.close()


@pytest.fixture
def channel() -> str:
    """A channel of its own per test: the Redis servers are shared by the session."""
    return f"wa{uuid.uuid4().hex[:8]}"


async def test_the_first_id_starts_the_conversation_and_the_others_join_it(
    store: Store, channel: str
) -> None:
    assert await store.link_identities(channel, [PHONE, BSUID], address=PHONE) == PHONE
    assert await store.link_identities(channel, [BSUID], address=BSUID) == PHONE
    assert await store.identity_address(channel, PHONE) == BSUID
    assert await store.identity_address(channel, BSUID) is None  # not a conversation


async def test_an_id_seen_alone_first_keeps_its_conversation_when_the_phone_appears(
    store: Store, channel: str
) -> None:
    assert await store.link_identities(channel, [BSUID], address=BSUID) == BSUID
    assert await store.link_identities(channel, [PHONE, BSUID], address=PHONE) == BSUID
    assert await store.link_identities(channel, [PHONE]) == BSUID
    assert await store.identity_address(channel, BSUID) == PHONE


async def test_a_changed_number_joins_the_conversation_it_comes_from(
    store: Store, channel: str
) -> None:
    await store.link_identities(channel, [PHONE, BSUID], address=PHONE)
    assert await store.link_identities(channel, [PHONE, "16505559999"], address="16505559999") == (
        PHONE
    )
    assert await store.link_identities(channel, ["16505559999"]) == PHONE
    assert await store.identity_address(channel, PHONE) == "16505559999"


async def test_concurrent_links_agree_on_one_conversation(store: Store, channel: str) -> None:
    answers = await asyncio.gather(
        *(store.link_identities(channel, [BSUID, f"1650555{n:04}"]) for n in range(20))
    )
    assert set(answers) == {BSUID}
    assert await store.link_identities(channel, ["16505550007"]) == BSUID


async def test_channels_do_not_share_ids(store: Store, channel: str) -> None:
    await store.link_identities(channel, [PHONE, BSUID])
    assert await store.link_identities(channel + "x", [BSUID, PHONE]) == BSUID

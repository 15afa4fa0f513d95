"""Headquarters over corrupted stored conversations: refused, never spun on, never overwritten.

Each test runs on MemoryStore and on a real redis-server. The corruption is written behind the
store's back (see ``overwrite``), keeping the revision where the test says so, as a bit flip,
a bad deploy or an operator's hand would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from flowhq import ConversationKey, Headquarters, InboundMessage, MemoryStore, SnapshotError, Store
from flowhq.persistence.redis import RedisStore
from tests.test_redis_concurrency import Counter
from tests.test_store_contract import overwrite

KEY = ConversationKey("whatsapp", "+15550001")
OTHER = ConversationKey("whatsapp", "+15550002")


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore.from_url(request.getfixturevalue("redis_url"))
    yield redis_store
    await redis_store.close()


def message(message_id: str, text: str, key: ConversationKey = KEY) -> InboundMessage:
    return InboundMessage(key.channel, key.identifier, message_id, text)


async def counted_twice(hq: Headquarters) -> None:
    """Start Counter and answer it once: it waits at ``ask`` again, ``count`` is 1."""
    await hq.handle(message("m1", "hi"))
    outcome = await hq.handle(message("m2", "one"))
    assert outcome.revision == 2


async def test_an_unknown_field_is_refused_and_kept(store: Store) -> None:
    hq = Headquarters(flows=[Counter], store=store)
    await counted_twice(hq)
    data = json.loads(store.codec.encode((await store.load(KEY)).document))
    data["evil"] = 1  # also what a newer flowhq adding a field would write
    tampered = json.dumps(data).encode()
    await overwrite(store, KEY, tampered)
    with pytest.raises(SnapshotError, match="unknown fields"):
        await Headquarters(flows=[Counter], store=store).handle(message("m3", "two"))
    with pytest.raises(SnapshotError, match="unknown fields"):
        await store.load(KEY)  # kept as it was

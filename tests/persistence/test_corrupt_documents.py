"""Headquarters over corrupted stored conversations: refused, never spun on, never overwritten.

Each test runs on MemoryStore and on a real redis-server. The corruption is written behind the
store's back (see ``overwrite``), keeping the revision where the test says so, as a bit flip,
a bad deploy or an operator's hand would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowhq import ConversationKey, Headquarters, InboundMessage, MemoryStore, SnapshotError, Store
from flowhq.persistence.redis import RedisStore
from flowhq.runtime.step import _base36
from tests.persistence.test_redis_concurrency import Counter
from tests.persistence.test_store_contract import overwrite, stored_raw

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


def test_question_tags_refuse_negative_numbers() -> None:
    """``divmod`` of a negative number never reaches 0: the encoding looped forever."""
    for number in (-1, -5, -(10**18)):
        with pytest.raises(ValueError, match="non-negative"):
            _base36(number)


@given(st.integers(min_value=0, max_value=10**18))
def test_question_tags_are_base36(number: int) -> None:
    tag = _base36(number)
    assert int(tag, 36) == number
    assert len(tag) <= 12


@pytest.mark.parametrize("revision", [-5, -2, 0])
async def test_a_negative_stored_revision_is_refused_not_spun_on(
    store: Store, revision: int
) -> None:
    hq = Headquarters(flows=[Counter], store=store)
    await counted_twice(hq)
    await overwrite(store, KEY, await stored_raw(store, KEY) or b"", revision=revision)
    with pytest.raises(SnapshotError, match="revision"):
        await store.load(KEY)
    # The same process (its cached copy says revision 2) and a fresh one both refuse it.
    for handler in (hq, Headquarters(flows=[Counter], store=store)):
        with pytest.raises(SnapshotError):
            await handler.handle(message("m3", "two"))
    assert (await hq.handle(message("o1", "hi", OTHER))).revision == 1  # others go on


async def test_an_unknown_field_is_refused_and_kept(store: Store) -> None:
    hq = Headquarters(flows=[Counter], store=store)
    await counted_twice(hq)
    data = json.loads(await stored_raw(store, KEY) or b"")
    data["evil"] = 1  # also what a newer flowhq adding a field would write
    tampered = json.dumps(data).encode()
    await overwrite(store, KEY, tampered)
    for handler in (hq, Headquarters(flows=[Counter], store=store)):
        with pytest.raises(SnapshotError, match="unknown fields"):
            await handler.handle(message("m3", "two"))
    assert await stored_raw(store, KEY) == tampered


@pytest.mark.parametrize(
    "corrupt",
    [b"{oops", b"null", b"[]", b'{"_metadata": {"schema": 2}}'],
    ids=["invalid-json", "null", "list", "half-a-document"],
)
async def test_the_document_cache_never_commits_over_a_corrupted_document(
    store: Store, corrupt: bytes
) -> None:
    """The process that handled the last message keeps its document; the revision is
    unchanged, so only the document's digest tells that the stored one is another."""
    hq = Headquarters(flows=[Counter], store=store)
    await counted_twice(hq)
    await overwrite(store, KEY, corrupt)
    with pytest.raises(SnapshotError) as info:
        await hq.handle(message("m3", "two"))
    assert info.value.key == str(KEY)
    assert await stored_raw(store, KEY) == corrupt


async def test_the_document_cache_picks_up_a_manual_fix(store: Store) -> None:
    hq = Headquarters(flows=[Counter], store=store)
    await counted_twice(hq)
    loaded = await store.load(KEY)
    assert loaded.document is not None
    fixed = loaded.document
    fixed.current.values["count"] = 41  # an operator corrects the count by hand
    await overwrite(store, KEY, store.codec.encode(fixed))
    outcome = await hq.handle(message("m3", "two"))
    assert outcome.revision == 3
    after = await store.load(KEY)
    assert after.document is not None
    assert after.document.current.values["count"] == 42

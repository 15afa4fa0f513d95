"""Headquarters over corrupted stored conversations: refused, never spun on, never overwritten.

Each test runs on MemoryStore and on a real redis-server. The corruption is written behind the
store's back (see ``overwrite``), keeping the revision where the test says so, as a bit flip,
a bad deploy or an operator's hand would. Stored state is decoded strictly: the tests of
wrong types, foreign documents, deep nesting and large revisions run on a real redis-server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from examples.signup import Signup
from flowhq import (
    ConversationKey,
    Headquarters,
    InboundMessage,
    MemoryStore,
    RecordingMessenger,
    SnapshotError,
    Store,
)
from flowhq.observability import hashed
from flowhq.persistence.redis import RedisStore
from flowhq.runtime.step import _base36
from flowhq.testing import no_api
from tests.flows import Age
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


# -- stored state is decoded strictly ------------------------------------------------------

REDIS_KEY = "flowhq:{whatsapp:+15550001}"


async def stored_signup(url: str) -> dict[str, object]:
    """A signup conversation at the email question, as JSON data."""
    store = RedisStore.from_url(url)
    hq = Headquarters(flows=[Signup], store=store, api=no_api(), messenger=RecordingMessenger())
    await hq.handle(message("m1", "hi"))
    await hq.handle(message("m2", "Ann"))
    await store.close()
    with redis.Redis.from_url(url) as admin:
        return json.loads(admin.hget(REDIS_KEY, "doc"))  # type: ignore[arg-type]


def put(url: str, data: object) -> bytes:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with redis.Redis.from_url(url) as admin:
        admin.hset(REDIS_KEY, "doc", raw)
    return raw


def stored(url: str) -> bytes:
    with redis.Redis.from_url(url) as admin:
        return admin.hget(REDIS_KEY, "doc")  # type: ignore[return-value]


def _null_reply(data: dict[str, object]) -> None:
    data["outbox"] = [{"revision": 2, "text": None, "buttons": [], "queued_at": 0.0}]


CORRUPTIONS = {
    "null reply text": _null_reply,
    "string inbox": lambda data: data.__setitem__("inbox", "m1m2"),
    "object outbox": lambda data: data.__setitem__("outbox", {}),
    "string configuration": lambda data: data["chart"].__setitem__("configuration", "email"),  # type: ignore[index]
    "number as text": lambda data: data["current"].__setitem__("component", 7),  # type: ignore[index]
    "true as revision": lambda data: _null_reply(data) or data["outbox"][0].update(revision=True),  # type: ignore[index]
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=list(CORRUPTIONS))
async def test_wrong_types_are_refused_and_left_untouched(redis_url: str, corrupt: object) -> None:
    data = await stored_signup(redis_url)
    corrupt(data)  # type: ignore[operator]
    raw = put(redis_url, data)
    store = RedisStore.from_url(redis_url)
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Signup], store=store, api=no_api(), messenger=messenger)
    with pytest.raises(SnapshotError) as info:
        await hq.handle(message("m3", "ann@example.com"))
    assert "malformed document" in info.value.reason
    assert messenger.sent == []  # no "None" reply went out
    assert stored(redis_url) == raw  # never overwritten
    await store.close()


async def test_a_document_naming_another_user_is_refused(redis_url: str) -> None:
    data = await stored_signup(redis_url)
    data["channel"] = {"type": "whatsapp", "identifier": "+15550002"}
    put(redis_url, data)
    store = RedisStore.from_url(redis_url)
    with pytest.raises(SnapshotError, match="belongs to another conversation"):
        await store.load(KEY)
    await store.close()


async def test_deep_nesting_is_a_snapshot_error(redis_url: str) -> None:
    await stored_signup(redis_url)
    put(redis_url, b'{"_metadata": {"schema": 2}, "dashboard": ' + b"[" * 100_000)
    store = RedisStore.from_url(redis_url)
    with pytest.raises(SnapshotError, match="not JSON"):
        await store.load(KEY)
    await store.close()


async def test_redeliver_skips_what_it_cannot_read(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(RecordingMessenger):
        fail = True

        async def send(self, key: ConversationKey, messages: object) -> None:
            if self.fail:
                raise ConnectionError("channel down")
            await super().send(key, messages)  # type: ignore[arg-type]

    store = RedisStore.from_url(redis_url)
    messenger = Failing()
    hq = Headquarters(flows=[Age], store=store, messenger=messenger)
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    for n in range(4):
        await hq.handle(InboundMessage("whatsapp", f"+1555000{n}", f"m{n}", "hi"))
    with redis.Redis.from_url(redis_url) as admin:  # two keys nobody can read
        admin.hset("flowhq:{whatsapp:+15550001}", "doc", b"[" * 5000)
        admin.set("flowhq:{whatsapp:+15550002}", "a string, not a hash")
    messenger.fail = False
    caplog.set_level(logging.ERROR, logger="flowhq")
    assert await hq.redeliver(older_than=0) == 2  # the two readable ones, past the others
    assert sorted(k.identifier for k, _ in messenger.sent) == ["+15550000", "+15550003"]
    # The key is pseudonymised at ERROR (docs/operations.md: finding the conversation).
    unreadable = hashed(ConversationKey("whatsapp", "+15550001"))
    assert f"redeliver: skipping whatsapp:#{unreadable}" in caplog.text
    assert "+15550001" not in caplog.text
    await store.close()


async def test_revisions_past_2_to_the_53_stay_exact(redis_url: str) -> None:
    await stored_signup(redis_url)
    big = 2**53 + 1  # a Lua double would round it to 2**53
    with redis.Redis.from_url(redis_url) as admin:
        admin.hset(REDIS_KEY, "rev", str(big))
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Signup], store=store, api=no_api())
    outcome = await hq.handle(message("m3", "ann@example.com"))
    assert outcome.revision == big + 1
    with redis.Redis.from_url(redis_url) as admin:
        assert admin.hget(REDIS_KEY, "rev") == str(big + 1).encode()
    await store.close()

"""One contract for every store: MemoryStore, RedisStore, and RedisStore on a cluster.

Every test goes through the real codec (the stores encode what they keep).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator

import pytest

from flowhq import ConversationKey, MemoryStore, SnapshotError, Store
from flowhq.persistence.redis import RedisStore
from flowhq.persistence.store import Seen
from flowhq.state.document import Auth, Channel, ConversationDocument, OutboxEntry

KEY = ConversationKey("whatsapp", "+15550001")


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = connect(request, request.param)
    yield redis_store
    await redis_store.close()


def connect(request: pytest.FixtureRequest, kind: str) -> RedisStore:
    """A RedisStore on the session's server ("redis") or cluster ("cluster"), emptied."""
    if kind == "redis":
        return RedisStore.from_url(request.getfixturevalue("redis_url"))
    return RedisStore.from_url(request.getfixturevalue("cluster_url"), cluster=True)


def document(identifier: str = "+15550001", **fields: object) -> ConversationDocument:
    doc = ConversationDocument(channel=Channel("whatsapp", identifier), auth=Auth("tok"))
    for name, value in fields.items():
        setattr(doc, name, value)
    return doc


def sha1_hex(raw: bytes) -> str:
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


async def overwrite(
    store: Store, key: ConversationKey, raw: bytes, *, revision: int | None = None
) -> None:
    """Write over a stored conversation behind the store's back, keeping its revision.

    What an operator's manual fix or a corruption does. MemoryStore has no other writer, so
    its entry is reached directly; Redis gets a plain HSET.
    """
    if isinstance(store, MemoryStore):
        entry = store._entries[key]
        entry.raw = raw
        if revision is not None:
            entry.revision = revision
        return
    assert isinstance(store, RedisStore)
    fields: dict[str, bytes | int] = {"doc": raw}
    if revision is not None:
        fields["rev"] = revision
    await store.client.hset(store.keys.key(key), mapping=fields)  # type: ignore[misc]


async def stored_raw(store: Store, key: ConversationKey) -> bytes | None:
    """The stored document's bytes, read without decoding them."""
    if isinstance(store, MemoryStore):
        return store._entries[key].raw
    assert isinstance(store, RedisStore)
    raw: bytes | None = await store.client.hget(store.keys.key(key), "doc")  # type: ignore[misc]
    return raw


async def test_absent_conversation(store: Store) -> None:
    loaded = await store.load(KEY)
    assert loaded.document is None
    assert (loaded.revision, loaded.delivered) == (0, frozenset())


async def test_commit_and_load_round_trip(store: Store) -> None:
    doc = document(
        dashboard={"plan": "gold", "n": [1, 2]},
        inbox=["m1"],
        outbox=[OutboxEntry(1, "hi", [("yes", "Yes")])],
    )
    result = await store.commit(KEY, doc, expected=0)
    assert (result.ok, result.revision) == (True, 1)
    loaded = await store.load(KEY)
    assert loaded.document == doc
    assert loaded.revision == 1
    second = await store.commit(KEY, doc, expected=1)
    assert second.revision == 2


async def test_conflict_returns_the_current_document(store: Store) -> None:
    first = document(inbox=["a"])
    await store.commit(KEY, first, expected=0)
    stale = await store.commit(KEY, document(inbox=["b"]), expected=0)
    assert not stale.ok
    assert stale.revision == 1
    assert stale.current is not None
    assert stale.current.document == first
    assert stale.current.revision == 1
    creating = await store.commit(ConversationKey("whatsapp", "+2"), document(), expected=5)
    assert not creating.ok
    assert creating.current is not None
    assert creating.current.document is None


async def test_concurrent_commits_exactly_one_wins(store: Store) -> None:
    await store.commit(KEY, document(), expected=0)
    results = await asyncio.gather(
        *(store.commit(KEY, document(inbox=[str(i)]), expected=1) for i in range(20))
    )
    assert sum(r.ok for r in results) == 1
    assert (await store.load(KEY)).revision == 2


async def test_delivery_marks_are_kept_until_forgotten(store: Store) -> None:
    await store.commit(KEY, document(), expected=0)
    await store.mark_delivered(KEY, [1])
    await store.commit(KEY, document(), expected=1)
    await store.mark_delivered(KEY, [2, 2])
    loaded = await store.load(KEY)
    assert (loaded.revision, loaded.delivered) == (2, {1, 2})
    await store.commit(KEY, document(), expected=2, forget=[1])
    assert (await store.load(KEY)).delivered == {2}
    stale = await store.commit(KEY, document(), expected=1, forget=[2])
    assert stale.current is not None
    assert stale.current.delivered == {2}  # a refused commit forgets nothing
    await store.mark_delivered(ConversationKey("whatsapp", "+nobody"), [3])
    assert (await store.load(ConversationKey("whatsapp", "+nobody"))).document is None


async def test_ttl_expires_and_commit_without_ttl_persists(store: Store) -> None:
    await store.commit(KEY, document(), expected=0, ttl=1)
    other = ConversationKey("whatsapp", "+2")
    await store.commit(other, document("+2"), expected=0, ttl=1)
    await store.commit(other, document("+2"), expected=1)  # no TTL: kept
    await asyncio.sleep(1.3)
    assert (await store.load(KEY)).document is None
    assert (await store.load(other)).document is not None


async def test_delete_and_scan(store: Store) -> None:
    keys = {ConversationKey("whatsapp", f"+1{i}") for i in range(30)}
    keys.add(ConversationKey("console", "with:colon{brace}"))
    for key in keys:
        await store.commit(key, document(key.identifier), expected=0)
    assert {key async for key in store.scan()} == keys
    assert await store.delete(ConversationKey("whatsapp", "+10"))
    assert not await store.delete(ConversationKey("whatsapp", "+10"))
    assert len({key async for key in store.scan()}) == 30


async def test_commit_refuses_a_document_it_was_not_derived_from(store: Store) -> None:
    first = document(inbox=["a"])
    await store.commit(KEY, first, expected=0)
    loaded = await store.load(KEY)
    assert loaded.digest == sha1_hex(store.codec.encode(first))  # what Redis's sha1hex says
    stale = await store.commit(KEY, document(inbox=["b"]), expected=1, digest=sha1_hex(b"{}"))
    assert not stale.ok
    assert stale.current is not None
    assert (stale.current.document, stale.current.revision) == (first, 1)
    second = document(inbox=["b"])
    fresh = await store.commit(KEY, second, expected=1, digest=loaded.digest)
    assert (fresh.ok, fresh.revision) == (True, 2)
    again = await store.commit(KEY, document(inbox=["c"]), expected=2, digest=loaded.digest)
    assert not again.ok  # the digest of revision 1's document, not of what is stored now
    assert (await store.load(KEY)).document == second


@pytest.mark.parametrize(
    "corrupt",
    [b"{oops", b"null", b'{"_metadata": 5}', b"", b"\xff"],
    ids=["invalid-json", "null", "foreign-json", "empty", "bad-utf8"],
)
async def test_corrupted_document_at_the_same_revision_is_never_written_over(
    store: Store, corrupt: bytes
) -> None:
    await store.commit(KEY, document(inbox=["a"]), expected=0)
    copy = await store.load(KEY)  # what a process keeps in its cache
    await overwrite(store, KEY, corrupt)  # the revision stays 1
    with pytest.raises(SnapshotError) as info:
        await store.commit(KEY, document(inbox=["b"]), expected=1, digest=copy.digest)
    assert info.value.key == str(KEY)
    assert await stored_raw(store, KEY) == corrupt


async def test_a_manual_fix_at_the_same_revision_is_the_current_document(store: Store) -> None:
    await store.commit(KEY, document(inbox=["a"]), expected=0)
    copy = await store.load(KEY)
    fixed = document(inbox=["a"], dashboard={"plan": "fixed by hand"})
    await overwrite(store, KEY, store.codec.encode(fixed))
    result = await store.commit(KEY, document(inbox=["b"]), expected=1, digest=copy.digest)
    assert not result.ok
    assert result.current is not None
    assert (result.current.document, result.current.revision) == (fixed, 1)


@pytest.mark.parametrize("revision", [-5, -1, 0, 10**18, 2**64])
async def test_a_stored_revision_out_of_range_is_refused(store: Store, revision: int) -> None:
    await store.commit(KEY, document(), expected=0)
    await overwrite(store, KEY, store.codec.encode(document()), revision=revision)
    with pytest.raises(SnapshotError, match="revision"):
        await store.load(KEY)


async def test_replies_of_an_uncommitted_revision_are_refused(store: Store) -> None:
    await store.commit(KEY, document(), expected=0)
    ahead = document(outbox=[OutboxEntry(2, "from the future")])
    await overwrite(store, KEY, store.codec.encode(ahead))
    with pytest.raises(SnapshotError, match="revision 2 > 1"):
        await store.load(KEY)


async def test_an_unknown_document_field_is_refused(store: Store) -> None:
    await store.commit(KEY, document(), expected=0)
    data = json.loads(store.codec.encode(document()))
    data["evil"] = 1
    await overwrite(store, KEY, json.dumps(data).encode())
    with pytest.raises(SnapshotError, match=r"unknown fields .*evil"):
        await store.load(KEY)


@pytest.fixture(params=["redis", "cluster"])
async def redis_like(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    store = connect(request, request.param)
    yield store
    await store.close()


async def test_corrupt_value_is_an_error_for_that_conversation_only(redis_like: RedisStore) -> None:
    """Only Redis can hold values flowhq did not write (MemoryStore: see test_templates_codec)."""
    store = redis_like
    good = ConversationKey("whatsapp", "+good")
    await store.commit(good, document("+good"), expected=0)
    bad_json, wrong_type, foreign = (ConversationKey("whatsapp", f"+{n}") for n in "xyz")
    await store.client.hset(store.keys.key(bad_json), mapping={"doc": b"{oops", "rev": 3})
    await store.client.set(store.keys.key(wrong_type), b"just a string")
    await store.client.hset(store.keys.key(foreign), mapping={"owner": "someone else"})
    for key in (bad_json, wrong_type, foreign):
        with pytest.raises(SnapshotError) as info:
            await store.load(key)
        assert info.value.key == str(key)
        with pytest.raises(SnapshotError):
            await store.commit(key, document(), expected=0)
    # nothing was overwritten, and other conversations go on
    assert await store.client.hget(store.keys.key(foreign), "owner") == b"someone else"
    assert await store.client.get(store.keys.key(wrong_type)) == b"just a string"
    assert (await store.load(good)).document is not None


async def test_pages_of_keys_cover_every_conversation(store: Store) -> None:
    keys = {ConversationKey("paged", f"+1{i}") for i in range(25)}
    for key in keys:
        doc = ConversationDocument(channel=Channel(key.channel, key.identifier))
        await store.commit(key, doc, expected=0)
    seen: set[ConversationKey] = set()
    cursor, pages = "0", 0
    while True:
        page, cursor = await store.scan_page(cursor, 7)
        seen.update(page)
        pages += 1
        if cursor == "0":
            break
        assert pages < 1000
    assert seen >= keys
    assert seen == {key async for key in store.scan()}
    assert pages > 1
    size = await store.size()
    assert size is not None
    assert size >= len(keys)


# --- the timer index ----------------------------------------------------------------------


def timer_key(name: str) -> ConversationKey:
    return ConversationKey("timers", f"{name}-{id(object())}")


async def commit_new(store: Store, key: ConversationKey, *, wake_at: float | None) -> None:
    doc = ConversationDocument(channel=Channel(key.channel, key.identifier))
    result = await store.commit(key, doc, expected=0, wake_at=wake_at)
    assert result.ok


async def test_a_commit_with_wake_at_indexes_the_conversation(store: Store) -> None:
    key = timer_key("a")
    await commit_new(store, key, wake_at=1_000.5)
    claims = await store.claim_due(999.0, limit=1000, lease=30)
    assert key not in {claim.key for claim in claims}  # not due yet
    claims = await store.claim_due(1_000.5, limit=1000, lease=30)
    assert key in {claim.key for claim in claims}
    # claimed: pushed to now + lease, so a second claimer does not take it
    assert key not in {c.key for c in await store.claim_due(1_001.0, limit=1000, lease=30)}
    # ... unless the claimer died and the lease lapsed
    again = [c for c in await store.claim_due(1_031.0, limit=1000, lease=30) if c.key == key]
    assert again
    await store.release_due(again[0], None)
    assert key not in {c.key for c in await store.claim_due(9_999.0, limit=1000, lease=30)}


async def test_the_index_only_moves_earlier_on_commits(store: Store) -> None:
    key = timer_key("b")
    await commit_new(store, key, wake_at=500.0)
    loaded = await store.load(key)
    assert loaded.document is not None
    result = await store.commit(key, loaded.document, expected=1, wake_at=900.0)
    assert result.ok
    assert key in {c.key for c in await store.claim_due(500.0, limit=1000, lease=30)}


async def test_a_release_keeps_a_step_that_lowered_the_entry_since_the_claim(store: Store) -> None:
    key = timer_key("c")
    await commit_new(store, key, wake_at=100.0)
    (claim,) = [c for c in await store.claim_due(100.0, limit=1000, lease=60) if c.key == key]
    loaded = await store.load(key)
    assert loaded.document is not None
    await store.commit(key, loaded.document, expected=1, wake_at=120.0)  # a concurrent step
    await store.release_due(claim, 400.0)  # the claimer thought the next was at 400
    assert key in {c.key for c in await store.claim_due(120.0, limit=1000, lease=60)}


async def test_a_release_sets_the_next_due_time(store: Store) -> None:
    key = timer_key("d")
    await commit_new(store, key, wake_at=100.0)
    (claim,) = [c for c in await store.claim_due(100.0, limit=1000, lease=60) if c.key == key]
    await store.release_due(claim, 300.0)
    assert key not in {c.key for c in await store.claim_due(299.0, limit=1000, lease=60)}
    assert key in {c.key for c in await store.claim_due(300.0, limit=1000, lease=60)}


async def test_deleting_a_conversation_removes_its_timers(store: Store) -> None:
    key = timer_key("e")
    await commit_new(store, key, wake_at=50.0)
    assert await store.timers_due(50.0) >= 1
    before = await store.timers_due(50.0)
    assert await store.delete(key)
    assert await store.timers_due(50.0) == before - 1
    assert key not in {c.key for c in await store.claim_due(60.0, limit=1000, lease=60)}


async def test_concurrent_claimers_never_take_one_entry_twice(store: Store) -> None:
    keys = [timer_key(f"f{i}") for i in range(60)]
    for key in keys:
        await commit_new(store, key, wake_at=10.0)
    batches = await asyncio.gather(*(store.claim_due(10.0, limit=7, lease=60) for _ in range(20)))
    taken = [claim.key for batch in batches for claim in batch if claim.key in set(keys)]
    assert len(taken) == len(set(taken))
    assert set(taken) == set(keys)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rev", b"-5"),
        ("rev", b"05"),  # the commit compares revisions as strings: it would conflict forever
        ("rev", b"+5"),
        ("rev", b" 5"),
        ("rev", b"5_0"),
        ("rev", b"1e3"),
        ("rev", b"99999999999999999999999"),
        ("dlv:-1", b"1"),
        ("dlv:x", b"1"),
        ("dlv:9", b"1"),  # a revision not committed yet
        ("dlv:1", b"2"),
        ("dlp:1", b"-3"),
        ("dlp:1", b"many"),
        ("dlf:1", b"\xff\xfe"),
        ("dlf:1", b"x" * 501),
        ("evil", b"1"),
    ],
)
async def test_every_hash_field_is_checked(
    redis_store: RedisStore, field: str, value: bytes
) -> None:
    key = ConversationKey("whatsapp", "+15550001")
    await redis_store.commit(key, document(), expected=0)
    await redis_store.client.hset(redis_store.keys.key(key), field, value)  # type: ignore[misc]
    with pytest.raises(SnapshotError) as info:
        await redis_store.load(key)
    assert info.value.key == str(key)


async def test_valid_marks_load(redis_store: RedisStore) -> None:
    key = ConversationKey("whatsapp", "+15550001")
    await redis_store.commit(key, document(), expected=0)
    await redis_store.commit(key, document(), expected=1)
    await redis_store.mark_delivered(key, [1], progress={2: 1}, failures={2: "é" * 600})
    loaded = await redis_store.load(key)
    assert (loaded.delivered, loaded.progress) == ({1}, {2: 1})
    assert loaded.failures == {2: "é" * 500}  # kept to its first 500 characters


# --- message ids seen beyond the document's inbox ----------------------------------------


def seen(message_id: str, at: float, *, limit: int = 1000) -> Seen:
    return Seen(message_id, at, since=at - 100, limit=limit, keep=3600)


async def test_a_commit_of_a_message_seen_before_is_a_duplicate(store: Store) -> None:
    key = timer_key("seen")
    doc = ConversationDocument(channel=Channel(key.channel, key.identifier))
    assert (await store.commit(key, doc, expected=0, seen=seen("wamid.1", 1000.0))).ok
    again = await store.commit(key, doc, expected=1, seen=seen("wamid.1", 1001.0))
    assert again.duplicate
    assert not again.ok
    assert (await store.load(key)).revision == 1  # nothing was written
    assert (await store.commit(key, doc, expected=1, seen=seen("wamid.2", 1002.0))).ok


async def test_past_the_limit_the_oldest_ids_make_way_for_a_floor(store: Store) -> None:
    key = timer_key("floor")
    doc = ConversationDocument(channel=Channel(key.channel, key.identifier))
    for n in range(6):
        result = await store.commit(key, doc, expected=n, seen=seen(f"m{n}", 1000.0 + n, limit=3))
        assert result.ok
    # m0..m2 went; their newest time (1002) is the floor: a message from before counts as seen
    late = await store.commit(key, doc, expected=6, seen=seen("never-seen", 1001.5, limit=3))
    assert late.duplicate
    assert (await store.commit(key, doc, expected=6, seen=seen("m1", 1001.0, limit=3))).duplicate
    fresh = await store.commit(key, doc, expected=6, seen=seen("new", 1002.5, limit=3))
    assert fresh.ok


async def test_ids_older_than_the_window_are_forgotten(store: Store) -> None:
    key = timer_key("window")
    doc = ConversationDocument(channel=Channel(key.channel, key.identifier))
    assert (await store.commit(key, doc, expected=0, seen=seen("old", 1000.0))).ok
    assert (await store.commit(key, doc, expected=1, seen=seen("later", 1200.0))).ok
    # "old" (1000) is before 1200 - 100: forgotten (callers refuse such deliveries first)
    assert (await store.commit(key, doc, expected=2, seen=seen("old", 1201.0))).ok


async def test_ids_are_forgotten_as_each_passes_out_of_the_window(store: Store) -> None:
    """Each commit's window (its time - 100) forgets exactly the ids before it, one by one,
    however many commits come between."""
    key = timer_key("sliding")
    doc = ConversationDocument(channel=Channel(key.channel, key.identifier))
    times = {"a": 1000.0, "b": 1050.0, "c": 1120.0, "d": 1140.0, "e": 1160.0}
    for revision, (message_id, at) in enumerate(times.items()):
        assert (await store.commit(key, doc, expected=revision, seen=seen(message_id, at))).ok
    # The last window starts at 1060: "a" and "b" are forgotten, "c" (1120) is still seen.
    assert (await store.commit(key, doc, expected=5, seen=seen("b", 1161.0))).ok
    assert (await store.commit(key, doc, expected=6, seen=seen("c", 1162.0))).duplicate
    assert (await store.commit(key, doc, expected=6, seen=seen("a", 1163.0))).ok

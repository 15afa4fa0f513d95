"""An uncontended message costs two round trips (load, commit), or one when this process
handled the conversation's previous message (its cached copy saves the load)."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection

from examples.signup import Signup
from flowhq import Headquarters, InboundMessage, RecordingMessenger, RedisStore
from flowhq.testing import no_api


class CountingConnection(Connection):
    """Counts requests written to the socket (one per round trip)."""

    sends = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sends += 1
        await super().send_packed_command(command, check_health)


def commandstats(url: str) -> dict[str, int]:
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


API = no_api()  # never called in these tests


def counting_store(url: str) -> RedisStore:
    pool = aioredis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    return RedisStore(aioredis.Redis.from_pool(pool))


async def test_two_round_trips_per_uncontended_message(redis_url: str) -> None:
    store = counting_store(redis_url)
    first = Headquarters(flows=[Signup], store=store, api=API)
    await first.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))  # loads the script once
    other = Headquarters(flows=[Signup], store=store, api=API)  # another process: no cache
    with redis.Redis.from_url(redis_url) as admin:
        admin.config_resetstat()
    CountingConnection.sends = 0
    await other.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))
    assert CountingConnection.sends == 2
    stats = commandstats(redis_url)
    assert stats["hgetall"] == 1
    assert stats["evalsha"] == 1
    assert "eval" not in stats
    assert "script|load" not in stats
    await store.close()


async def test_one_round_trip_when_this_process_handled_the_last_message(
    redis_url: str,
) -> None:
    store = counting_store(redis_url)
    hq = Headquarters(flows=[Signup], store=store, api=API)
    await hq.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))
    with redis.Redis.from_url(redis_url) as admin:
        admin.config_resetstat()
    CountingConnection.sends = 0
    await hq.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))
    assert CountingConnection.sends == 1
    stats = commandstats(redis_url)
    assert stats["evalsha"] == 1
    assert "hgetall" not in stats
    await store.close()


async def test_a_stale_cached_copy_costs_only_the_conflict_answer(redis_url: str) -> None:
    store = counting_store(redis_url)
    mine = Headquarters(flows=[Signup], store=store, api=API)
    theirs = Headquarters(flows=[Signup], store=store, api=API)
    await mine.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))
    await theirs.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))  # mine is stale now
    CountingConnection.sends = 0
    outcome = await mine.handle(InboundMessage("whatsapp", "+1", "m3", "ann@example.com"))
    assert CountingConnection.sends == 2  # the refused commit answers with the document
    assert outcome.revision == 3
    assert [r.text for r in outcome.replies] == ["Create an account for Ann <ann@example.com>?"]
    await store.close()


async def test_messenger_adds_one_round_trip_after_the_send(redis_url: str) -> None:
    store = counting_store(redis_url)
    hq = Headquarters(flows=[Signup], store=store, messenger=RecordingMessenger(), api=API)
    await hq.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))
    CountingConnection.sends = 0
    await hq.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))
    assert CountingConnection.sends == 2  # commit, then mark delivered (the load is cached)
    await store.close()


async def test_script_cache_flush_is_survived(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Signup], store=store, api=API)
    await hq.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))
    with redis.Redis.from_url(redis_url) as admin:
        admin.script_flush()
    outcome = await hq.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))
    assert outcome.revision == 2
    await store.close()


async def test_durability_report(redis_url: str, cluster_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    assert await store.check_durability() is True  # the fixture runs appendonly yes
    with redis.Redis.from_url(redis_url) as admin:
        admin.config_set("appendonly", "no")
    try:
        assert await store.check_durability() is False
    finally:
        with redis.Redis.from_url(redis_url) as admin:
            admin.config_set("appendonly", "yes")
    await store.close()
    cluster = RedisStore.from_url(cluster_url, cluster=True)
    assert await cluster.check_durability() is True
    await cluster.close()

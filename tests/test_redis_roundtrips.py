"""An uncontended message costs exactly two round trips: load, then commit."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection

from examples.signup import Signup
from flowhq import Headquarters, InboundMessage, RecordingMessenger, RedisStore


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


async def test_two_round_trips_per_uncontended_message(redis_url: str) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    store = RedisStore(aioredis.Redis.from_pool(pool))
    hq = Headquarters(flows=[Signup], store=store)
    await hq.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))  # loads the script once
    with redis.Redis.from_url(redis_url) as admin:
        admin.config_resetstat()
    CountingConnection.sends = 0
    await hq.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))
    assert CountingConnection.sends == 2
    stats = commandstats(redis_url)
    assert stats["hgetall"] == 1
    assert stats["evalsha"] == 1
    assert "eval" not in stats
    assert "script|load" not in stats
    await store.close()


async def test_messenger_adds_one_round_trip_after_the_send(redis_url: str) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    store = RedisStore(aioredis.Redis.from_pool(pool))
    hq = Headquarters(flows=[Signup], store=store, messenger=RecordingMessenger())
    await hq.handle(InboundMessage("whatsapp", "+1", "m1", "hi"))
    CountingConnection.sends = 0
    await hq.handle(InboundMessage("whatsapp", "+1", "m2", "Ann"))
    assert CountingConnection.sends == 3  # load, commit, then mark delivered
    await store.close()


async def test_script_cache_flush_is_survived(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Signup], store=store)
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

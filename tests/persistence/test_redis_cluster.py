"""Headquarters on a real three-master Redis Cluster."""

from __future__ import annotations

import asyncio

import httpx

from examples.signup import Signup
from flowhq import Headquarters, InboundMessage, RecordingMessenger, RedisStore


async def test_signup_runs_on_the_cluster(cluster_url: str, api_client: httpx.AsyncClient) -> None:
    store = RedisStore.from_url(cluster_url, cluster=True)
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Signup], store=store, messenger=messenger, api=api_client)

    async def signup(user: int) -> bool:
        identifier = f"+1555000{user:04}"
        outcome = None
        for n, text in enumerate(["hi", f"User{user}", f"user{user}@example.com", "yes"]):
            outcome = await hq.handle(InboundMessage("whatsapp", identifier, f"m{n}", text))
        assert outcome is not None
        return outcome.finished

    # enough users that their keys spread over all three masters' slots
    assert all(await asyncio.gather(*(signup(user) for user in range(30))))
    keys = {key async for key in store.scan()}
    assert len(keys) == 30
    nodes = {store.client.get_node_from_key(store.keys.key(key)).name for key in keys}
    assert len(nodes) == 3
    assert messenger.texts().count("Welcome aboard, User7!") == 1
    await store.close()

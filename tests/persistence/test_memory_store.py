"""MemoryStore forgets expired conversations without scanning for them."""

from __future__ import annotations

import asyncio

from flowhq import ConversationKey, Headquarters, InboundMessage, MemoryStore
from tests.flows import Age

KEY = ConversationKey("whatsapp", "+15550001")


async def test_memory_store_drops_expired_conversations_without_a_scan() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Age], store=store, ttl=1)
    for n in range(20):
        await hq.handle(InboundMessage("whatsapp", f"+1{n}", "m1", "hi"))
    assert len(store._entries) == 20
    await asyncio.sleep(2.1)
    await store.load(KEY)  # any access sweeps (at most once a second)
    assert len(store._entries) == 0

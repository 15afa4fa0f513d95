"""aiogram's FSM storage on the same Redis, doing what a typical handler does per update.

Per message: ``get_state``, ``get_data``, ``update_data`` (a get and a set) and ``set_state``;
with ``RedisEventIsolation`` all of it inside ``async with isolation.lock(key)``, as aiogram's
dispatcher does (a redis-py ``Lock``: SET NX to take it, a Lua script to release it, and a
0.1 s sleep between tries while another update holds it). ``n`` in the data counts applied
messages. No bot and no network: the storage classes are used directly.
"""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis import asyncio as aioredis

from benchmarks.floor import NEXT

BOT_ID = 42


def storage_key(conversation: int) -> StorageKey:
    return StorageKey(bot_id=BOT_ID, chat_id=conversation, user_id=conversation)


class AiogramHandler:
    """One update the aiogram way, with or without event isolation."""

    def __init__(self, client: aioredis.Redis, *, isolation: bool) -> None:
        self.storage = RedisStorage(redis=client)
        self.isolation: RedisEventIsolation | None = (
            self.storage.create_isolation() if isolation else None
        )

    async def handle(self, conversation: int, text: str) -> None:
        key = storage_key(conversation)
        if self.isolation is None:
            await self._handle(key, text)
            return
        async with self.isolation.lock(key):
            await self._handle(key, text)

    async def _handle(self, key: StorageKey, text: str) -> None:
        storage = self.storage
        state = await storage.get_state(key) or "first_name"
        data = await storage.get_data(key)
        await storage.update_data(key, {state: text, "n": data.get("n", 0) + 1})
        await storage.set_state(key, NEXT[state])

    async def count(self, conversation: int) -> int:
        data = await self.storage.get_data(storage_key(conversation))
        return int(data.get("n", 0))

    async def stored_bytes(self, conversation: int) -> int:
        key, build = storage_key(conversation), self.storage.key_builder.build
        client = self.storage.redis
        return int(await client.strlen(build(key, "state"))) + int(
            await client.strlen(build(key, "data"))
        )

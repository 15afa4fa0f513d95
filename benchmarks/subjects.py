"""The things measured on Redis, behind one shape: handle a conversation's n-th message.

Every subject also says how many messages a conversation has applied (from the stored data),
so each scenario checks that nothing was lost or applied twice.
"""

from __future__ import annotations

from typing import Any, Protocol

from redis import asyncio as aioredis

from benchmarks.aiogram_storage import AiogramHandler
from benchmarks.floor import Floor, count
from benchmarks.flows import Tally, signup_text
from examples.signup import Signup
from flowhq import ConversationKey, Flow, Headquarters, InboundMessage, RedisStore
from flowhq.testing import no_api


class Subject(Protocol):
    name: str

    async def handle(self, conversation: int, step: int) -> None: ...

    async def applied(self, conversation: int) -> int: ...

    async def stored_bytes(self, conversation: int) -> int: ...

    async def close(self) -> None: ...


class FloorSubject:
    """benchmarks/floor.py: GET + orjson + transition + Lua CAS (optionally a per-key lock)."""

    def __init__(self, url: str, *, lock: bool = False, **options: Any) -> None:
        self.name = "floor + lock" if lock else "floor"
        self.client = aioredis.Redis.from_url(url, **options)
        self.floor = Floor(self.client, lock=lock)

    async def setup(self) -> None:
        await self.floor.setup()

    async def handle(self, conversation: int, step: int) -> None:
        await self.floor.handle(f"floor:{{{conversation}}}", signup_text(step))

    async def applied(self, conversation: int) -> int:
        return await count(self.client, f"floor:{{{conversation}}}")

    async def stored_bytes(self, conversation: int) -> int:
        return int(await self.client.strlen(f"floor:{{{conversation}}}"))

    async def close(self) -> None:
        await self.client.aclose()


class AiogramSubject:
    """aiogram's RedisStorage, with or without RedisEventIsolation (benchmarks/aiogram_storage)."""

    def __init__(self, url: str, *, isolation: bool, **options: Any) -> None:
        self.name = "aiogram + isolation" if isolation else "aiogram"
        self.client = aioredis.Redis.from_url(url, **options)
        self.handler = AiogramHandler(self.client, isolation=isolation)

    async def setup(self) -> None:
        pass

    async def handle(self, conversation: int, step: int) -> None:
        await self.handler.handle(conversation, signup_text(step))

    async def applied(self, conversation: int) -> int:
        return await self.handler.count(conversation)

    async def stored_bytes(self, conversation: int) -> int:
        return await self.handler.stored_bytes(conversation)

    async def close(self) -> None:
        await self.client.aclose()


class FlowhqSubject:
    """flowhq's Headquarters on RedisStore: the signup flow (or Tally), warm or cold.

    Warm: one Headquarters with its cache (the process keeps each conversation's last
    committed document, so a message is one round trip). Cold: ``cache=False``, as a fresh
    Headquarters would be: every message loads the conversation first.
    """

    def __init__(
        self,
        url: str,
        *,
        warm: bool = True,
        flow: type[Flow] = Signup,
        transcript: int = 50,
        **options: Any,
    ) -> None:
        self.name = f"flowhq {'warm' if warm else 'cold'}"
        self.store = RedisStore.from_url(url, **options)
        self.api = no_api()  # the message sequence never reaches signup's ApiCall
        self.hq = Headquarters(
            flows=[flow], store=self.store, api=self.api, cache=warm, transcript=transcript
        )
        self.tally = flow is Tally

    async def setup(self) -> None:
        pass

    async def handle(self, conversation: int, step: int) -> None:
        text = str(step) if self.tally else signup_text(step)
        await self.hq.handle(InboundMessage("whatsapp", f"+{conversation}", f"m{step}", text))

    async def applied(self, conversation: int) -> int:
        # Every applied message is one commit: the revision counts them.
        return (await self.store.load(self._key(conversation))).revision

    async def stored_bytes(self, conversation: int) -> int:
        redis_key = self.store.keys.key(self._key(conversation))
        return int(await self.store.client.hstrlen(redis_key, "doc"))

    @staticmethod
    def _key(conversation: int) -> ConversationKey:
        return ConversationKey("whatsapp", f"+{conversation}")

    async def close(self) -> None:
        await self.store.close()
        await self.api.aclose()

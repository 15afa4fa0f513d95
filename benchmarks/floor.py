"""The floor: the least a framework on redis-py asyncio + hiredis can do per message.

GET the conversation, decode it with orjson, take a trivial transition, write it back with a
Lua compare-and-set on the revision (two round trips; one Redis key; no retry needed unless
two writers meet). The document is ``"<revision>:<json>"`` so the script checks the revision
without decoding JSON. ``n`` counts applied messages.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis import asyncio as aioredis

# KEYS[1] the conversation; ARGV[1] expected revision, ARGV[2] new value. 1: written; 0: stale.
CAS = """
local current = redis.call('GET', KEYS[1])
local rev = '0'
if current then rev = string.match(current, '^(%d+):') end
if rev ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

NEXT = {"first_name": "email", "email": "confirm", "confirm": "first_name"}


def transition(document: dict[str, Any], text: str) -> None:
    """Save the answer under the current state and move on; count the message."""
    state = document["state"]
    document["data"][state] = text
    document["state"] = NEXT[state]
    document["n"] += 1


class Floor:
    """Handles a message the cheapest correct way; counts compare-and-set conflicts.

    Args:
        client: The redis-py asyncio client.
        lock: Put a per-key ``asyncio.Lock`` in front (what the burst floor measures).
    """

    def __init__(self, client: aioredis.Redis, *, lock: bool = False) -> None:
        self.client = client
        self.sha = ""
        self.conflicts = 0
        self.locks: dict[str, asyncio.Lock] | None = {} if lock else None

    async def setup(self) -> None:
        self.sha = await self.client.script_load(CAS)

    async def handle(self, key: str, text: str) -> None:
        if self.locks is None:
            await self._handle(key, text)
            return
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            await self._handle(key, text)

    async def _handle(self, key: str, text: str) -> None:
        while True:
            raw = await self.client.get(key)
            if raw is None:
                revision, document = 0, {"state": "first_name", "n": 0, "data": {}}
            else:
                head, _, body = raw.partition(b":")
                revision, document = int(head), orjson.loads(body)
            transition(document, text)
            value = b"%d:%b" % (revision + 1, orjson.dumps(document))
            if await self.client.evalsha(self.sha, 1, key, revision, value):
                return
            self.conflicts += 1


async def count(client: aioredis.Redis, key: str) -> int:
    """The number of messages applied to ``key`` (0 when absent)."""
    raw = await client.get(key)
    return 0 if raw is None else int(orjson.loads(raw.partition(b":")[2])["n"])

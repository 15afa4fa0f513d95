"""A second process resuming paused conversations (tests/runtime/test_handoff_on_redis.py).

Usage: python handoff_resumer.py REDIS_URL IDENTIFIER...
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flowhq import Headquarters, RecordingMessenger, RedisStore
from tests.runtime.test_handoff_on_redis import Desk


async def main(url: str, identifiers: list[str]) -> None:
    store = RedisStore.from_url(url)
    hq = Headquarters(flows=[Desk], store=store, messenger=RecordingMessenger())
    try:
        await asyncio.gather(*(hq.resume("whatsapp", identifier) for identifier in identifiers))
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))

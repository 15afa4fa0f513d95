"""A worker process for tests/runtime/test_timers_on_redis.py: fires timers until SIGTERM.

``python -m tests.runtime.timer_worker REDIS_URL SENT_FILE [--victim MARKER]``. Every reply
is appended to SENT_FILE as one line ``identifier<TAB>text<TAB>epoch`` (one write each, so
lines of several processes never mix). A victim blocks forever on its 100th reply, after
the commit that produced it, and says so in MARKER: the test then SIGKILLs it; its claimed
conversations come back after the lease, its unsent reply through redelivery.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from flowhq import (
    ConversationKey,
    DeliveryOptions,
    Flow,
    Headquarters,
    Message,
    OutboundMessage,
    Prompt,
    RedisStore,
    TimerOptions,
)


class Nudge(Flow):
    """Waits for an answer; the backend's timer nudges it."""

    name = "nudge"
    ask = Prompt("Anything?", initial=True)
    nudged = Message("nudged", final=True)
    answered = Message("thanks", final=True)

    valid = ask.to(answered)
    nudge = ask.to(nudged)


class FileMessenger:
    def __init__(self, path: str, marker: str | None) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.marker = marker
        self.count = 0

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        for message in messages:
            self.count += 1
            if self.marker is not None and self.count == 100:
                Path(self.marker).write_text(key.identifier)  # noqa: ASYNC240 - a test
                await asyncio.Event().wait()  # hangs here until SIGKILL
            line = f"{key.identifier}\t{message.text}\t{time.time()}\n"
            os.write(self.fd, line.encode())


def headquarters(
    url: str, messenger: FileMessenger | None = None, *, concurrency: int = 50
) -> Headquarters:
    return Headquarters(
        flows=[Nudge],
        store=RedisStore.from_url(url),
        messenger=messenger,
        delivery=DeliveryOptions(redelivery_after=10.0),
        timers=TimerOptions(lease=3.0, batch=100, concurrency=concurrency),
    )


async def main(url: str, sent: str, marker: str | None) -> None:
    # The victim fires one conversation at a time, so when it hangs every earlier reply is
    # marked delivered: a reply it sent and never marked would be sent again (at least
    # once), which would blur what this test counts, the firings.
    hq = headquarters(url, FileMessenger(sent, marker), concurrency=1 if marker else 50)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def redeliver() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            await hq.redeliver()

    await asyncio.gather(hq.run_timers(stop), redeliver())
    await hq.aclose()


if __name__ == "__main__":
    victim = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--victim" else None
    asyncio.run(main(sys.argv[1], sys.argv[2], victim))

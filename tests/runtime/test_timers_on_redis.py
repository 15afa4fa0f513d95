"""Timers on a real redis-server: several processes, a crash, a restart, races."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowhq import (
    ConversationKey,
    InboundMessage,
    RecordingMessenger,
    RedisStore,
    StoreUnavailableError,
)
from flowhq.testing import ManualClock
from tests.redis_servers import RedisServer
from tests.runtime.timer_worker import Nudge, headquarters

ROOT = Path(__file__).resolve().parents[2]


def spawn(url: str, sent: Path, marker: Path | None = None) -> subprocess.Popen[bytes]:
    victim = ["--victim", str(marker)] if marker is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.timer_worker", url, str(sent), *victim],
        cwd=ROOT,
    )


def lines(path: Path) -> list[tuple[str, str, float]]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        identifier, text, at = line.split("\t")
        found.append((identifier, text, float(at)))
    return found


async def test_a_thousand_timers_over_three_processes_and_a_crash_fire_once_each(
    redis_url: str, tmp_path: Path
) -> None:
    hq = headquarters(redis_url)
    due: dict[str, float] = {}
    start = time.time() + 3
    for n in range(1000):
        identifier = f"+1555{n:07}"
        await hq.start("test", identifier)
        at = start + (n % 40) * 0.1
        await hq.schedule("test", identifier, "nudge", at=datetime.fromtimestamp(at, UTC))
        due[identifier] = at
    await hq.aclose()
    sent, marker = tmp_path / "sent.tsv", tmp_path / "victim"
    workers = [spawn(redis_url, sent, marker), spawn(redis_url, sent), spawn(redis_url, sent)]
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert marker.exists(), "the victim never reached its 100th reply"
        workers[0].send_signal(signal.SIGKILL)  # mid-way: committed, not sent, batch claimed
        while len({i for i, _, _ in lines(sent)}) < 1000 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(11)  # a lease and a redelivery more: nothing late may come
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    replies = lines(sent)
    by_user: dict[str, list[tuple[str, float]]] = {}
    for identifier, text, at in replies:
        by_user.setdefault(identifier, []).append((text, at))
    assert set(by_user) == set(due)
    twice = {identifier: got for identifier, got in by_user.items() if len(got) > 1}
    assert not twice, f"fired twice: {twice}, victim blocked on {marker.read_text()}"
    assert all(text == "nudged" for got in by_user.values() for text, _ in got)
    assert all(at >= due[identifier] for identifier, got in by_user.items() for _, at in got)
    assert [w.returncode for w in workers[1:]] == [0, 0]
    check = RedisStore.from_url(redis_url)
    assert await check.timers_due(time.time() + 3600) == 0
    await check.close()


async def test_timers_pending_when_redis_crashes_fire_after_it_restarts_from_its_aof(
    fresh_redis: RedisServer,
) -> None:
    clock = ManualClock()
    messenger = RecordingMessenger()
    store = RedisStore.from_url(fresh_redis.url)
    hq = headquarters(fresh_redis.url)
    hq = type(hq)(flows=[Nudge], store=store, messenger=messenger, clock=clock)
    for n in range(20):
        await hq.start("test", f"+{n}")
        await hq.schedule("test", f"+{n}", "nudge", after=timedelta(hours=1))
    fresh_redis.kill()
    clock.advance(timedelta(hours=1))  # due while Redis is down
    with pytest.raises(StoreUnavailableError):
        await hq.fire_due()
    fresh_redis.start()
    fired = 0
    for _ in range(100):  # as run_timers does: the next passes, once Redis is back
        try:
            fired += await hq.fire_due()
        except StoreUnavailableError:
            await asyncio.sleep(0.1)
        else:
            break
    assert fired == 20
    assert messenger.texts().count("nudged") == 20
    await hq.aclose()


async def test_an_answer_racing_the_timeout_wins_or_loses_whole(redis_url: str) -> None:
    clock = ManualClock()
    results = []
    for n in range(30):
        messenger = RecordingMessenger()
        hq = headquarters(redis_url)
        hq = type(hq)(
            flows=[Nudge], store=RedisStore.from_url(redis_url), messenger=messenger, clock=clock
        )
        key = ConversationKey("race", f"+{n}")
        await hq.start(key.channel, key.identifier)
        await hq.schedule(key.channel, key.identifier, "nudge", after=1)
        clock.advance(1)
        other = type(hq)(
            flows=[Nudge], store=RedisStore.from_url(redis_url), messenger=messenger, clock=clock
        )
        answer = other.handle(InboundMessage(key.channel, key.identifier, f"m{n}", "hello"))
        await asyncio.gather(answer, hq.fire_due())
        texts = messenger.texts(key)
        # Exactly one wins. The timeout first: the answer then starts the flow again.
        assert texts[1:] in (["thanks"], ["nudged", "Anything?"]), texts
        document = (await hq.store.load(key)).document
        assert document is not None
        expected = ["answered"] if "thanks" in texts else ["ask"]
        assert document.chart.configuration == expected
        results.append(texts[-1])
        await hq.aclose()
        await other.aclose()
    assert len(results) == 30

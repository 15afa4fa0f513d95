"""Worker processes on one Redis: shared shards, per-user order, a worker killed (SIGKILL)
after acknowledging an update, which another worker then handles; and examples/whatsapp_bot.py
started the documented way."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from flowhq.channels.whatsapp.signature import sign
from flowhq.testing.whatsapp import FakeGraphApi, delivery, text
from tests.channels.whatsapp.fixtures import APP_SECRET, FAKE_TOKEN, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[3]
WORKER_APP = "tests.channels.whatsapp.worker_app:app"
LOAD_APP = "tests.channels.whatsapp.load_app:app"


class Worker:
    """``uvicorn <app>`` (by default tests.channels.whatsapp.worker_app:app) in its own process."""

    def __init__(
        self, env: dict[str, str], app: str = "tests.channels.whatsapp.worker_app:app"
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.url}/webhook", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("worker did not start") from None
                time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture
def environment(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], tmp_path: Path
) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "WHATSAPP_GRAPH_URL": fake_graph[1],
        "WHATSAPP_TOKEN": FAKE_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "MARKER_DIR": str(tmp_path),
        "LEASE": "1",
    }


async def post(url: str, user: str, body: str) -> None:
    payload = delivery(([text(user, body)], []))
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{url}/webhook",
            content=payload,
            headers={"x-hub-signature-256": sign(payload, APP_SECRET)},
        )
    assert response.status_code == 200


async def test_a_killed_workers_update_is_handled_by_another(
    environment: dict[str, str], fake_graph: tuple[FakeGraphApi, str], tmp_path: Path
) -> None:
    fake = fake_graph[0]
    user = "15557770001"
    first = Worker({**environment, "SLOW_SECONDS": "60"})
    second = None
    try:
        await post(first.url, user, "hi")
        await wait_for(lambda: fake.texts(user) == ["Go?"])
        await post(first.url, user, "go")  # acknowledged: it is on the stream now
        await wait_for((tmp_path / f"started-{first.process.pid}").exists)
        first.kill()  # in the middle of the step, before any commit
        second = Worker({**environment, "SLOW_SECONDS": "0"})
        await wait_for(lambda: fake.texts(user) == ["Go?", "Done."])
        assert (tmp_path / f"started-{second.process.pid}").exists()
        with redis.Redis.from_url(environment["REDIS_URL"]) as admin:
            await wait_for(
                lambda: sum(admin.xlen(f"flowhq:updates:{{{n}}}") for n in range(2)) == 0
            )
        await asyncio.sleep(1.5)
        assert fake.texts(user) == ["Go?", "Done."]  # handled once
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_two_workers_share_the_updates_and_keep_each_users_order(
    environment: dict[str, str], fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake = fake_graph[0]
    users = [f"1555888{n:04d}" for n in range(12)]
    workers: list[Worker] = []
    try:
        workers.extend(Worker({**environment, "SLOW_SECONDS": "0"}) for _ in range(2))
        await asyncio.sleep(2.5)  # both hold their share of the shards
        for word in ("hi", "go", "hi", "go"):
            await asyncio.gather(
                *(post(workers[n % 2].url, user, word) for n, user in enumerate(users))
            )
        expected = ["Go?", "Done.", "Go?", "Done."]
        await wait_for(lambda: all(fake.texts(user) == expected for user in users))
        with redis.Redis.from_url(environment["REDIS_URL"]) as admin:
            holders = {admin.get(f"flowhq:updates:{{{n}}}:lease") for n in range(2)}
        assert len(holders) == 2  # the two shards are held by two different workers
    finally:
        for worker in workers:
            worker.stop()


async def test_a_sync_action_blocking_2_s_keeps_every_users_messages_once_and_in_order(
    environment: dict[str, str], fake_graph: tuple[FakeGraphApi, str]
) -> None:
    """The fault campaign's load, bounded: 2 worker processes, 30 users by 16 messages posted
    to either as users type (a pause between two), a sync Action blocking 2 s on every 20th.
    Each user's answers must be applied exactly once and in order, nothing may stay pending,
    and each user's last message is marked read (an earlier one may share its receipt)."""
    fake = fake_graph[0]
    last: dict[str, str] = {}
    users = [f"1555444{n:04d}" for n in range(30)]
    count = 16
    workers: list[Worker] = []
    try:
        workers.extend(
            Worker(
                {**environment, "BLOCK_SECONDS": "2"}, app="tests.channels.whatsapp.load_app:app"
            )
            for _ in range(2)
        )
        await asyncio.sleep(2.5)  # both hold their share of the shards

        async def conversation(n: int, user: str) -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                for k in range(count + 1):  # the first message starts the flow
                    slow = k and (n * count + k) % 20 == 0
                    message = text(user, f"{k}!" if slow else str(k))
                    last[user] = message["id"]
                    body = delivery(([message], []))
                    response = await client.post(
                        f"{workers[(n + k) % 2].url}/webhook",
                        content=body,
                        headers={"x-hub-signature-256": sign(body, APP_SECRET)},
                    )
                    assert response.status_code == 200
                    await asyncio.sleep(0.2)  # entries keep coming while workers are busy

        await asyncio.gather(*(conversation(n, user) for n, user in enumerate(users)))
        with redis.Redis.from_url(environment["REDIS_URL"]) as admin:
            streams = [f"flowhq:updates:{{{n}}}" for n in range(4)]

            def drained() -> bool:
                return all(
                    admin.xlen(s) == 0 and admin.xpending(s, "flowhq")["pending"] == 0
                    for s in streams
                )

            await wait_for(drained, seconds=45)

            def seen(user: str) -> object:
                raw = admin.hget(f"flowhq:{{whatsapp:{user}}}", "doc")
                return json.loads(raw)["current"]["values"].get("seen") if raw else None

            expected = [str(k) for k in range(1, count + 1)]
            assert {user: seen(user) for user in users} == dict.fromkeys(users, expected)
        await wait_for(lambda: set(last.values()) <= {r.message_id for r in fake.reads})
        assert len(fake.reads) <= len(users) * (count + 1)  # never more than one per message
    finally:
        for worker in workers:
            worker.stop()


async def test_the_example_bot_runs_under_uvicorn_from_its_environment(
    environment: dict[str, str], fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake = fake_graph[0]
    bot = Worker(environment, app="examples.whatsapp_bot:app")
    user = "15556660001"
    try:
        async with httpx.AsyncClient() as client:
            handshake = await client.get(
                f"{bot.url}/webhook",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "1158201444",
                },
            )
        assert handshake.text == "1158201444"
        await post(bot.url, user, "hi")
        await wait_for(lambda: fake.texts(user) == ["Which pizza would you like?"])
        await post(bot.url, user, "Four cheese")
        await wait_for(lambda: fake.texts(user) == ["Which pizza would you like?", "Which size?"])
    finally:
        bot.stop()


def test_the_example_bot_names_the_missing_variables() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("WHATSAPP_")}
    run = subprocess.run(
        [sys.executable, "-m", "uvicorn", "examples.whatsapp_bot:app", "--port", str(free_port())],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert (
        "examples.whatsapp_bot needs WHATSAPP_TOKEN, WHATSAPP_APP_SECRET, "
        "WHATSAPP_VERIFY_TOKEN, WHATSAPP_PHONE_NUMBER_ID in the environment"
    ) in run.stderr

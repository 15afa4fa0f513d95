"""The WhatsApp webhook path: how fast the 200 goes out, and how many messages worker
processes get through, with 1 and 2 processes on one Redis.

Worker processes run ``benchmarks/webhook_app.py`` under uvicorn. The load posts signed
deliveries (one message each), each conversation's messages in order.

- Throughput: many conversations at once, as fast as the workers answer; measured until
  every conversation counted all its messages (read from Redis, which also checks that none
  was lost or applied twice).
- Acknowledgement latency: a paced load (each of 10 conversations pauses 50 ms between its
  messages, well under what one worker handles), each POST timed until its 200 — the
  number Meta cares about (it expects a median under 250 ms). Under a saturating load the
  latency is only the queue in front of a busy CPU.
- Acknowledgement latency with slow steps: a paced load from many conversations (the fault
  campaign's 200 users), while every 20th step a worker runs waits 2 s in an async Action.
  The 200 must not depend on what flows do.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from benchmarks.harness import Problems, RedisServer, free_port
from flowhq.channels.whatsapp.signature import sign
from flowhq.testing.whatsapp import delivery, text

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
NUMBER = "100000000000002"


def _start(
    url: str, app: str = "benchmarks.webhook_app:app", **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": url, **env},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/webhook", timeout=1)
            return process, base
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("webhook worker did not start") from None
            time.sleep(0.1)


async def _counted(url: str, users: list[str]) -> int:
    client = aioredis.from_url(url)
    try:
        done = 0
        for user in users:
            raw = await client.hget(f"flowhq:{{whatsapp:{user}}}", "doc")
            if raw:
                done += json.loads(raw)["current"]["values"].get("count", 0)
        return done
    finally:
        await client.aclose()


class _Connection:
    """A bare HTTP/1.1 keep-alive connection posting to the webhook.

    httpx costs about as much CPU per request as the server spends answering it; on a
    2-core machine the load would then measure itself. This writes the request bytes and
    reads the status line, headers and body, nothing more.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> _Connection:
        host, port = base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def post(self, body: bytes, signed: str) -> int:
        head = (
            "POST /webhook HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {signed}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def _load(
    bases: list[str],
    users: list[str],
    messages: int,
    latencies: list[float],
    pause: float = 0.0,
) -> None:
    async def conversation(index: int, user: str) -> None:
        connection = await _Connection.open(bases[index % len(bases)])
        try:
            for n in range(messages + 1):  # the first message starts the flow
                body = delivery(
                    ([text(user, "hi" if n == 0 else f"m{n}")], []), phone_number_id=NUMBER
                )
                signed = sign(body, SECRET)
                started = time.perf_counter()
                status = await connection.post(body, signed)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")
                if pause:
                    await asyncio.sleep(pause)
        finally:
            connection.close()

    await asyncio.gather(*(conversation(i, user) for i, user in enumerate(users)))


def run(
    server: RedisServer,
    workers: int,
    *,
    conversations: int,
    messages: int,
    problems: Problems,
    read_receipts: bool = True,
) -> tuple[float, float, float]:
    """(p50 ack ms, p99 ack ms, messages processed per second)."""
    server.flush()
    receipts = "1" if read_receipts else "0"
    started_workers = [_start(server.url, READ_RECEIPTS=receipts) for _ in range(workers)]
    try:
        time.sleep(4.0 if workers > 1 else 0.5)  # let the workers share the shards
        bases = [base for _, base in started_workers]
        paced = [f"1666{run_id():06d}{n:05d}" for n in range(10)]
        latencies: list[float] = []
        asyncio.run(_load(bases, paced, messages, latencies, pause=0.05))
        users = [f"1777{run_id():06d}{n:05d}" for n in range(conversations)]
        started = time.perf_counter()
        asyncio.run(_load(bases, users, messages, []))
        _drained(server, users, conversations * messages, f"webhook, {workers} worker(s)", problems)
        elapsed = time.perf_counter() - started
    finally:
        for process, _ in started_workers:
            process.terminate()
            process.wait(timeout=30)
    p50, p99 = _percentiles(latencies)
    return p50, p99, (conversations * (messages + 1)) / elapsed


def with_slow_steps(
    server: RedisServer,
    workers: int,
    *,
    conversations: int,
    messages: int,
    pause: float,
    every: int = 20,
    seconds: float = 2.0,
    problems: Problems,
) -> tuple[float, float]:
    """(p50 ack ms, p99 ack ms) of a paced load while every ``every``-th step waits."""
    server.flush()
    started_workers = [
        _start(server.url, SLOW_EVERY=str(every), SLOW_SECONDS=str(seconds)) for _ in range(workers)
    ]
    try:
        time.sleep(4.0 if workers > 1 else 0.5)  # let the workers share the shards
        bases = [base for _, base in started_workers]
        users = [f"1888{run_id():06d}{n:05d}" for n in range(conversations)]
        latencies: list[float] = []
        asyncio.run(_load(bases, users, messages, latencies, pause=pause))
        label = f"webhook with slow steps, {workers} worker(s)"
        _drained(server, users, conversations * messages, label, problems)
    finally:
        for process, _ in started_workers:
            process.terminate()
            process.wait(timeout=30)
    return _percentiles(latencies)


def _drained(
    server: RedisServer, users: list[str], expected: int, label: str, problems: Problems
) -> None:
    """Wait (up to 2 minutes) until the workers counted ``expected`` messages; check it."""
    deadline = time.monotonic() + 120
    while asyncio.run(_counted(server.url, users)) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    counted = asyncio.run(_counted(server.url, users))
    problems.expect(f"{label}: messages counted", counted, expected)


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    """(p50, p99) of ``latencies`` (seconds), in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def floor(server: RedisServer, *, conversations: int, messages: int, problems: Problems) -> float:
    """Messages per second through ``benchmarks/webhook_floor_app.py`` in one process.

    The same load as :func:`run` (signed POSTs, each conversation's messages in order),
    measured until every message was applied.
    """
    server.flush()
    process, base = _start(server.url, "benchmarks.webhook_floor_app:app")
    try:
        time.sleep(0.5)
        users = [f"1888{run_id():06d}{n:05d}" for n in range(conversations)]
        started = time.perf_counter()
        asyncio.run(_load([base], users, messages, []))
        expected = conversations * (messages + 1)
        deadline = time.monotonic() + 120
        while asyncio.run(_floor_counted(server.url, users)) < expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        counted = asyncio.run(_floor_counted(server.url, users))
        problems.expect("webhook floor: messages applied", counted, expected)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return expected / elapsed


async def _floor_counted(url: str, users: list[str]) -> int:
    client = aioredis.from_url(url)
    try:
        raws = await client.mget([f"floor:{user}" for user in users])
        return sum(json.loads(raw.partition(b":")[2])["n"] for raw in raws if raw)
    finally:
        await client.aclose()


_runs = iter(range(1, 1_000_000))


def run_id() -> int:
    """A fresh number per run, so runs never share conversations."""
    return next(_runs)


__all__ = ["floor", "run", "with_slow_steps"]

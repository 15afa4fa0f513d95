"""Messages per second through Headquarters: MemoryStore vs a real local RedisStore.

Starts its own redis-server (AOF, appendfsync everysec and always) on loopback, measures one
run of each, and prints ratios. Run with ``make bench``; nothing here is asserted.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time

from examples.signup import Signup
from flowhq import Headquarters, InboundMessage, MemoryStore, RedisStore, Store

MESSAGES = 3000
ANSWERS = ["hi", "Ann", "ann@example.com", "no"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def sequential(store: Store) -> float:
    """Messages/s, one conversation after another (latency-bound)."""
    hq = Headquarters(flows=[Signup], store=store)
    started = time.perf_counter()
    for n in range(MESSAGES):
        user, step = divmod(n, len(ANSWERS))
        await hq.handle(InboundMessage("whatsapp", f"+1{user}", f"m{step}", ANSWERS[step]))
    return MESSAGES / (time.perf_counter() - started)


async def concurrent(store: Store, users: int = 50) -> float:
    """Messages/s with ``users`` conversations in flight at once."""
    hq = Headquarters(flows=[Signup], store=store)

    async def talk(user: int) -> None:
        for step in range(MESSAGES // users):
            await hq.handle(
                InboundMessage("whatsapp", f"+2{user}", f"m{step}", ANSWERS[step % len(ANSWERS)])
            )

    started = time.perf_counter()
    await asyncio.gather(*(talk(user) for user in range(users)))
    return (MESSAGES // users * users) / (time.perf_counter() - started)


def redis_server(fsync: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed: apt-get install redis-server")
    port = free_port()
    directory = tempfile.mkdtemp()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--dir",
            directory,
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process, f"redis://127.0.0.1:{port}/0"


async def measure() -> None:
    memory_seq = await sequential(MemoryStore())
    memory_conc = await concurrent(MemoryStore())
    print(
        f"MemoryStore: {memory_seq:8.0f} msg/s sequential, {memory_conc:8.0f} msg/s with 50 users"
    )
    for fsync in ("everysec", "always"):
        process, url = redis_server(fsync)
        try:
            store = RedisStore.from_url(url)
            seq = await sequential(store)
            conc = await concurrent(store)
            await store.close()
        finally:
            process.kill()
        print(
            f"RedisStore (appendfsync {fsync}): {seq:8.0f} msg/s sequential "
            f"({seq / memory_seq:.2f}x memory), {conc:8.0f} msg/s with 50 users "
            f"({conc / memory_conc:.2f}x memory)"
        )


if __name__ == "__main__":
    asyncio.run(measure())

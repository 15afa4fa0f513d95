"""What every scenario shares: settings, results, a redis-server of our own, counting clients.

Nothing here is asserted; a scenario reports numbers and the problems it saw (lost or
duplicated messages), and ``run.py`` turns problems into a non-zero exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.asyncio.connection import Connection


@dataclass(frozen=True)
class Settings:
    """How much work each scenario does. ``quick`` is the smoke version (seconds, 1 run)."""

    quick: bool = False

    @property
    def runs(self) -> int:
        return 1 if self.quick else 3

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Row:
    """One line of the table: a scenario measured ``len(samples)`` times."""

    scenario: str
    in_flight: str
    unit: str
    samples: list[float]
    higher_is_better: bool = True
    target: str = ""
    group: str = ""
    vs_floor: float | None = None
    vs_aiogram: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass
class Problems:
    """Lost or duplicated messages, and anything else that makes a run invalid."""

    found: list[str] = field(default_factory=list)

    def expect(self, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            self.found.append(f"{what}: got {actual}, expected {expected}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of the benchmark's own: loopback, free port, temp dir, no persistence.

    ``appendonly no`` and ``save ""``: nothing is written to disk, so the numbers are those of
    the clients and the server's CPU, not of the disk (production wants AOF on).
    """

    OPTIONS = ("--appendonly", "no", "--save", "")

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is needed (scripts/system-deps.sh installs it)")
        self.directory = Path(tempfile.mkdtemp(prefix="flowhq-bench-"))
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                *self.OPTIONS,
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                    client.ping()
                    self.version = str(client.info("server")["redis_version"])
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def flush(self) -> None:
        with self.admin() as client:
            client.flushall()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class CountingConnection(Connection):
    """A redis-py connection that counts what clients send: commands and round trips.

    A round trip is one ``send_packed_command`` (a pipeline would send several commands in
    one); commands are counted by name as they are packed. Server-side calls made inside a
    Lua script are not client commands and are not seen here.
    """

    commands: Counter[str] = Counter()
    round_trips = 0

    @classmethod
    def reset(cls) -> None:
        cls.commands = Counter()
        cls.round_trips = 0

    def pack_command(self, *args: Any) -> Any:
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        CountingConnection.commands[name.upper()] += 1
        return super().pack_command(*args)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        await super().send_packed_command(command, check_health)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform  # noqa: PLC0415 - only off Linux

    return platform.processor() or "unknown CPU"


def cores() -> str:
    logical = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    return f"{usable} usable of {logical} logical" if usable != logical else f"{logical} logical"

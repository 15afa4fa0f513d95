"""Small helpers shared by fixtures and tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, as Redis Cluster needs."""
    for _ in range(200):
        port = free_port()
        if port > 55535:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@contextlib.contextmanager
def served(app: Any, *, lifespan: str = "off") -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    import uvicorn

    class Server(uvicorn.Server):
        def install_signal_handlers(self) -> None:  # the test thread cannot own signals
            pass

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


async def wait_for(check: Callable[[], object], seconds: float = 30.0) -> None:
    """Wait until ``check()`` is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def running_flowhq(
    arguments: list[str],
    *,
    log: Path,
    port: int,
    ready: str,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``python -m flowhq.cli ARGUMENTS`` in its own process until ``ready`` answers: its URL.

    Its output goes to ``log``, shown when it exits early or does not answer in 30 s.
    """
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "flowhq.cli", *arguments]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=root, stdout=output, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"
    what = f"flowhq {arguments[0]}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}{ready}", headers=headers, timeout=1).is_success:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not answer in 30 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

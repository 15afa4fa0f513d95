"""Shared fixtures: the demo API served for real, and example flows' helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn

from examples.demo_api import DemoApi
from tests.support import free_port

pytest_plugins = ["tests.redis_servers"]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread cannot own signals
        pass


@pytest.fixture(scope="session")
def demo_api() -> Iterator[tuple[DemoApi, str]]:
    """The examples' demo API served by uvicorn on loopback: (app, base_url)."""
    app = DemoApi()
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("demo API did not start")
        time.sleep(0.01)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
async def api_client(demo_api: tuple[DemoApi, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client pointed at the real demo API server."""
    async with httpx.AsyncClient(base_url=demo_api[1]) as client:
        yield client

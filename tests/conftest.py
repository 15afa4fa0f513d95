"""Shared fixtures: the demo API served for real, and example flows' helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from examples.demo_api import DemoApi
from tests.support import served

pytest_plugins = ["tests.redis_servers", "tests.channels.whatsapp.fixtures"]


@pytest.fixture(scope="session")
def demo_api() -> Iterator[tuple[DemoApi, str]]:
    """The examples' demo API served by uvicorn on loopback: (app, base_url)."""
    app = DemoApi()
    with served(app) as base_url:
        yield app, base_url


@pytest.fixture
async def api_client(demo_api: tuple[DemoApi, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client pointed at the real demo API server."""
    async with httpx.AsyncClient(base_url=demo_api[1]) as client:
        yield client

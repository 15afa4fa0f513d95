"""Fixtures serving ``FakeGraphApi`` for real on loopback (a pytest plugin: see conftest.py),
and the secrets the tests' webhook apps and fake Graph API use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowhq.testing.whatsapp import PHONE_NUMBER_ID, FakeGraphApi
from tests.support import served

FAKE_TOKEN = "EAAG-fake-token-4f1c9b27"
APP_SECRET = "app-secret-for-tests"
VERIFY_TOKEN = "verify-token-for-tests"

__all__ = ["APP_SECRET", "FAKE_TOKEN", "PHONE_NUMBER_ID", "VERIFY_TOKEN"]


@pytest.fixture(scope="module")
def fake_graph_server() -> Iterator[tuple[FakeGraphApi, str]]:
    """One FakeGraphApi served by uvicorn for the module: (fake, base_url)."""
    fake = FakeGraphApi(access_token=FAKE_TOKEN, phone_number_id=PHONE_NUMBER_ID)
    with served(fake) as base_url:
        yield fake, base_url


@pytest.fixture
def fake_graph(
    fake_graph_server: tuple[FakeGraphApi, str],
) -> Iterator[tuple[FakeGraphApi, str]]:
    """The served fake, with no recorded requests or programmed faults: (fake, base_url)."""
    fake, base_url = fake_graph_server
    fake.reset()
    yield fake, base_url
    fake.reset()

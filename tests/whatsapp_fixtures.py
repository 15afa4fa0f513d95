"""Fixtures serving ``FakeGraphApi`` for real on loopback (import them into a test module)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from flowhq.channels.whatsapp.fake_graph import FakeGraphApi
from tests.support import free_port

FAKE_TOKEN = "EAAG-fake-token-4f1c9b27"
PHONE_NUMBER_ID = "1098765432"


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread cannot own signals
        pass


@pytest.fixture(scope="module")
def fake_graph_server() -> Iterator[tuple[FakeGraphApi, str]]:
    """One FakeGraphApi served by uvicorn for the module: (fake, base_url)."""
    fake = FakeGraphApi(access_token=FAKE_TOKEN, phone_number_id=PHONE_NUMBER_ID)
    port = free_port()
    config = uvicorn.Config(fake, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake Graph API did not start")
        time.sleep(0.01)
    yield fake, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def fake_graph(
    fake_graph_server: tuple[FakeGraphApi, str],
) -> Iterator[tuple[FakeGraphApi, str]]:
    """The served fake, with no recorded requests or programmed faults: (fake, base_url)."""
    fake, base_url = fake_graph_server
    fake.reset()
    yield fake, base_url
    fake.reset()

"""A webhook app served under uvicorn against the fake Graph API, for the channel's tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from examples.demo_api import DemoApi
from flowhq import ConversationKey, DeliveryOptions, Flow, Headquarters, RedisStore
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.channels.whatsapp.signature import sign
from flowhq.testing.whatsapp import delivery
from tests.channels.whatsapp.fixtures import APP_SECRET, FAKE_TOKEN, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support import served

__all__ = ["load", "post", "say", "serve_bot"]


@contextlib.contextmanager
def serve_bot(
    flows: list[type[Flow]],
    redis_url: str,
    graph_url: str,
    *,
    messenger: dict[str, Any] | None = None,
    hq: dict[str, Any] | None = None,
    **options: Any,
) -> Iterator[tuple[str, Headquarters]]:
    """The webhook app for ``flows`` served under uvicorn: (base URL, Headquarters).

    ``messenger`` and ``hq`` override the messenger's and the Headquarters' arguments;
    the other keywords go to ``webhook_app``.
    """
    sender = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": FAKE_TOKEN,
        "backoff": 0.01,
        "max_retries": 1,
        **(messenger or {}),
    }
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=DemoApi()), base_url="http://api")
    headquarters = Headquarters(
        flows=flows,
        store=RedisStore.from_url(redis_url),
        messenger=WhatsAppMessenger(base_url=graph_url, **sender),
        api=api,
        **{"delivery": DeliveryOptions(redelivery_after=30.0), **(hq or {})},
    )
    app = webhook_app(headquarters, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, **options)
    with served(app, lifespan="on") as url:
        yield url, headquarters


async def post(url: str, body: bytes) -> httpx.Response:
    """POST a signed delivery to the app's webhook."""
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(body, APP_SECRET)}
    async with httpx.AsyncClient() as client:
        return await client.post(f"{url}/webhook", content=body, headers=headers)


async def say(url: str, *messages: dict[str, Any], **envelope: Any) -> None:
    """Deliver ``messages`` in one signed update; the app must answer 200."""
    response = await post(url, delivery((list(messages), []), **envelope))
    assert response.status_code == 200, response.text


async def load(redis_url: str, identifier: str) -> Any:
    """What the store holds for a WhatsApp user (read with this test's own client: the
    app's connections belong to the server's event loop)."""
    store = RedisStore.from_url(redis_url)
    try:
        return await store.load(ConversationKey("whatsapp", identifier))
    finally:
        await store.close()

"""One trace per update: the webhook's POST and the worker's spans, with the API call inside.

The webhook app runs under uvicorn on loopback against the fake Graph API and redis-server;
the OpenTelemetry SDK's in-memory exporter sees the spans.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from flowhq import Headquarters, RedisStore
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.channels.whatsapp.signature import sign
from flowhq.messaging.key import ConversationKey
from flowhq.observability import hashed
from flowhq.testing.whatsapp import FakeGraphApi, delivery, text
from tests.channels.whatsapp.fixtures import APP_SECRET, FAKE_TOKEN, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support import served, wait_for

USER = "15551230077"
REFUSED = "15551230078"
SAID = "my-secret-words"


class Backend(DemoApi):
    """The demo API, remembering the ``traceparent`` of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.traceparents: list[str | None] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        parent = headers.get(b"traceparent")
        self.traceparents.append(parent.decode() if parent else None)
        await super().__call__(scope, receive, send)


async def test_a_post_and_the_workers_spans_are_one_trace(
    spans: InMemorySpanExporter,
    redis_url: str,
    fake_graph: tuple[FakeGraphApi, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="flowhq")
    fake, graph_url = fake_graph
    fake.fail_for(REFUSED)
    backend = Backend()
    hq = Headquarters(
        flows=[OrderStatus],
        store=RedisStore.from_url(redis_url),
        messenger=WhatsAppMessenger(
            phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph_url
        ),
        api=httpx.AsyncClient(transport=httpx.ASGITransport(app=backend), base_url="http://api"),
    )
    app = webhook_app(hq, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN)
    with served(app, lifespan="on") as url:
        async with httpx.AsyncClient() as client:
            for n, body in enumerate(["hi", "A100"]):
                payload = delivery(([text(USER, body, message_id=f"wamid.t{n}")], []))
                response = await client.post(
                    f"{url}/webhook",
                    content=payload,
                    headers={"x-hub-signature-256": sign(payload, APP_SECRET)},
                )
                assert response.status_code == 200
                await wait_for(lambda n=n: len(fake.messages(USER)) >= 2 * n + 1)
            payload = delivery(([text(REFUSED, SAID, message_id="wamid.r0")], []))
            signature = sign(payload, APP_SECRET)
            await client.post(
                f"{url}/webhook", content=payload, headers={"x-hub-signature-256": signature}
            )
            await wait_for(lambda: any("refused" in r.getMessage() for r in caplog.records))
    finished = spans.get_finished_spans()
    assert len([s for s in finished if s.name == "whatsapp.receive"]) == 3
    (api_call,) = [s for s in finished if s.name == "flowhq.api"]  # A100's step calls the API
    trace = [s for s in finished if s.context.trace_id == api_call.context.trace_id]
    (lookup,) = [s for s in trace if s.name == "whatsapp.receive"]
    by_name = {s.name: s for s in trace}
    assert set(by_name) >= {"whatsapp.receive", "flowhq.queue", "flowhq.step", "flowhq.api"}
    assert by_name["flowhq.queue"].parent.span_id == lookup.context.span_id
    assert by_name["flowhq.step"].parent.span_id == by_name["flowhq.queue"].context.span_id
    assert by_name["flowhq.api"].parent.span_id == by_name["flowhq.step"].context.span_id
    sends = [s for s in trace if s.name == "whatsapp.send"]
    assert sends
    assert all(s.parent.span_id == by_name["flowhq.step"].context.span_id for s in sends)
    step = by_name["flowhq.step"].attributes
    assert step["flow"] == "order_status"
    assert step["state.before"] == "order_id"
    assert step["state.after"] == "another"
    assert step["result"] == "processed"
    assert step["retries"] == 0
    assert step["revision"] == 2
    assert step["conversation"] == hashed(ConversationKey("whatsapp", USER))  # joins the logs
    assert sends[0].attributes["result"] == "sent"
    assert by_name["flowhq.api"].attributes["http.response.status_code"] == 200
    # The backend got the API span's context: its trace, its span as the parent.
    api = by_name["flowhq.api"].context
    assert (backend.traceparents[-1] or "").startswith(
        f"00-{api.trace_id:032x}-{api.span_id:016x}-"
    )

    # Nothing names a user, repeats what was said or shows the token: spans, records.
    secrets = [USER, REFUSED, SAID, "A100", "shipped", FAKE_TOKEN]
    seen = [str(dict(s.attributes or {})) + s.name for s in finished]
    seen += [r.getMessage() + str(vars(r)) for r in caplog.records if r.levelno >= logging.INFO]
    refusal = [r for r in caplog.records if "refused" in r.getMessage()]
    assert refusal
    assert refusal[0].conversation  # type: ignore[attr-defined]
    for secret in secrets:
        assert not [line for line in seen if secret in line], secret

"""API calls: a client is required, slow and failing APIs are retried within bounds with one
idempotency key, and a token the HTTP layer refuses never shows anywhere."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from examples.signup import Signup
from flowhq import (
    ApiOptions,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    RedisStore,
)
from tests.support import served

KEY = ConversationKey("whatsapp", "+15550001")


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def texts(outcome: object) -> list[str]:
    return [reply.text for reply in outcome.replies]  # type: ignore[attr-defined]


async def test_an_api_client_is_required_for_api_calls() -> None:
    from flowhq import FlowDefinitionError

    with pytest.raises(FlowDefinitionError, match=r"Signup\.create need an API client"):
        Headquarters(flows=[Signup], store=MemoryStore())
    Headquarters(flows=[Signup], store=MemoryStore(), api=httpx.AsyncClient())


# -- slow and failing APIs ------------------------------------------------------------------


class Flaky:
    """An ASGI API answering from a script: ("sleep", s), ("status", code), per request."""

    def __init__(self, script: list[tuple[str, float]]) -> None:
        self.script = list(script)
        self.keys: list[str] = []

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        headers = dict(scope["headers"])
        self.keys.append(headers.get(b"idempotency-key", b"").decode())
        kind, value = self.script.pop(0) if self.script else ("status", 200)
        if kind == "sleep":
            await asyncio.sleep(value)
        status = int(value) if kind == "status" else 200
        body = json.dumps({"ok": status < 400}).encode()
        await send({"type": "http.response.start", "status": status, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


class Call(Flow):
    from flowhq import ApiCall

    ask = Prompt("Go?", initial=True)
    call = ApiCall("POST", "/do", results=("success", "error", "timeout"), timeout=0.2)
    done_msg = Message("Done.", final=True)
    failed = Message("Failed.", final=True)
    late = Message("Too slow.", final=True)
    valid = ask.to(call)
    success = call.to(done_msg)
    error = call.to(failed)
    timeout = call.to(late)


async def run_call(script: list[tuple[str, float]], **options: object) -> tuple[list[str], Flaky]:
    """Run the Call flow against a real loopback server answering from ``script``."""
    app = Flaky(script)
    with served(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as api:
            hq = Headquarters(
                flows=[Call], store=MemoryStore(), api=ApiOptions(api, backoff=0.01, **options)
            )  # type: ignore[arg-type]
            await hq.handle(msg("m1"))
            outcome = await hq.handle(msg("m2", "go"))
    return texts(outcome), app


async def test_a_late_answer_is_retried_with_the_same_idempotency_key() -> None:
    replies, app = await run_call([("sleep", 0.5), ("status", 200)])
    assert replies == ["Done."]
    assert len(app.keys) == 2
    assert app.keys[0] == app.keys[1]


async def test_5xx_is_retried_within_the_bound_4xx_is_not() -> None:
    replies, app = await run_call([("status", 503), ("status", 502), ("status", 200)])
    assert replies == ["Done."]
    assert len(app.keys) == 3
    replies, app = await run_call([("status", 500)] * 5, retries=2)
    assert replies == ["Failed."]
    assert len(app.keys) == 3
    replies, app = await run_call([("status", 404), ("status", 200)])
    assert replies == ["Failed."]
    assert len(app.keys) == 1


async def test_a_final_timeout_is_the_timeout_result() -> None:
    replies, app = await run_call([("sleep", 1.0)] * 3, retries=1)
    assert replies == ["Too slow."]
    assert len(app.keys) == 2


# -- a token the HTTP layer refuses ---------------------------------------------------------


TOKEN = "tök-s3cret-v4lue"  # not ASCII: the HTTP layer refuses it in a header


async def test_a_token_that_breaks_the_http_layer_never_shows(
    redis_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    store = RedisStore.from_url(redis_url)
    app = Flaky([])
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    hq = Headquarters(flows=[Call], store=store, api=api)
    await hq.initialize("whatsapp", "+15550001", auth_token=TOKEN)
    await hq.handle(msg("m1"))
    outcome = await hq.handle(msg("m2", "go"))
    assert texts(outcome) == ["Failed."]  # the request could not be made
    loaded = await store.load(KEY)
    assert loaded.document is not None
    history = [e.error or "" for e in loaded.document.validation.history]
    assert any("UnicodeEncodeError" in e or "error" in e for e in history), history
    from flowhq.cli import main

    assert await asyncio.to_thread(main, ["state", "show", str(KEY), "--redis", redis_url]) == 0
    shown = capsys.readouterr().out
    for text in (caplog.text, "".join(history), shown, repr(loaded.document), repr(hq)):
        assert TOKEN not in text
        assert "s3cret" not in text
    await store.close()

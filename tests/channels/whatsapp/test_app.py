"""The WhatsApp webhook app under uvicorn on loopback, against the fake Graph API.

Real servers only: the app, the fake Graph API and redis-server all listen on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis

from examples.demo_api import DemoApi
from examples.pizza import PizzaOrder
from examples.signup import Signup
from flowhq import (
    Action,
    DeliveryOptions,
    Flow,
    Headquarters,
    Message,
    Prompt,
    RedisStore,
    StateManager,
)
from flowhq.channels.whatsapp import Status, WhatsAppMessenger, webhook_app
from flowhq.channels.whatsapp.signature import sign
from flowhq.runtime.delivery import pending
from flowhq.testing.whatsapp import (
    Delivery,
    FakeGraphApi,
    button_reply,
    delivery,
    list_reply,
    status,
    text,
)
from tests.channels.whatsapp.fixtures import APP_SECRET, FAKE_TOKEN, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.redis_servers import RedisServer
from tests.support import served, wait_for

USER = "15551230001"


@contextlib.contextmanager
def bot(
    flows: list[type[Flow]], redis_url: str, graph_url: str, **options: Any
) -> Iterator[tuple[str, Headquarters]]:
    """The webhook app for ``flows`` served under uvicorn: (base URL, Headquarters)."""
    store = RedisStore.from_url(redis_url)
    messenger = WhatsAppMessenger(
        phone_number_id=PHONE_NUMBER_ID,
        access_token=FAKE_TOKEN,
        base_url=graph_url,
        backoff=0.01,
        max_retries=1,
    )
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=DemoApi()), base_url="http://api")
    hq = Headquarters(
        flows=flows,
        store=store,
        messenger=messenger,
        api=api,
        delivery=DeliveryOptions(redelivery_after=options.pop("redelivery_after", 30.0)),
    )
    app = webhook_app(hq, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, **options)
    with served(app, lifespan="on") as url:
        yield url, hq


async def post(url: str, body: bytes, *, signed: bool = True) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signed:
        headers["x-hub-signature-256"] = sign(body, APP_SECRET)
    async with httpx.AsyncClient() as client:
        return await client.post(f"{url}/webhook", content=body, headers=headers)


async def say(url: str, *messages: dict[str, Any]) -> None:
    response = await post(url, delivery((list(messages), [])))
    assert response.status_code == 200, response.text


async def delivered(redis_url: str, user: str = USER) -> None:
    """Wait until the user's replies are marked delivered in the store."""
    for _ in range(500):
        if not pending(await load(redis_url, user)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("replies still pending")


def reply_ids(message: Delivery) -> dict[str, str]:
    """Title -> id of the buttons or rows of an interactive message."""
    action = message.payload["interactive"]["action"]
    if "buttons" in action:
        return {b["reply"]["title"]: b["reply"]["id"] for b in action["buttons"]}
    return {row["title"]: row["id"] for section in action["sections"] for row in section["rows"]}


async def test_handshake(redis_url: str, fake_graph: tuple[FakeGraphApi, str]) -> None:
    with bot([Signup], redis_url, fake_graph[1]) as (url, _):
        async with httpx.AsyncClient() as client:
            ok = await client.get(
                f"{url}/webhook",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "1158201444",
                },
            )
            assert (ok.status_code, ok.text) == (200, "1158201444")
            wrong = await client.get(
                f"{url}/webhook",
                params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
            )
            assert wrong.status_code == 403


async def test_forged_and_missing_signatures_process_nothing(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([Signup], redis_url, graph) as (url, _):
        body = delivery(([text(USER, "hi")], []))
        assert (await post(url, body, signed=False)).status_code == 401
        async with httpx.AsyncClient() as client:
            forged = await client.post(
                f"{url}/webhook",
                content=body,
                headers={"x-hub-signature-256": sign(body, "another-secret")},
            )
        assert forged.status_code == 403
        await asyncio.sleep(0.5)
        assert fake.messages() == []
    assert (await load(redis_url, USER)).document is None


async def load(redis_url: str, user: str) -> Any:
    """What the store holds for ``user`` (read with this test's own client: the app's
    connections belong to the server's event loop)."""
    from flowhq import ConversationKey

    store = RedisStore.from_url(redis_url)
    try:
        return await store.load(ConversationKey("whatsapp", user))
    finally:
        await store.close()


async def test_a_whole_order_with_a_list_buttons_and_a_confirmation(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([PizzaOrder], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: len(fake.messages(USER)) == 1)
        menu = fake.messages(USER)[0]
        assert menu.payload["interactive"]["type"] == "list"  # five options: a list
        rows = reply_ids(menu)
        assert list(rows) == ["Margherita", "Four cheese", "Pepperoni", "Veggie", "Hawaii"]
        await say(url, list_reply(USER, rows["Four cheese"], "Four cheese"))
        await wait_for(lambda: len(fake.messages(USER)) == 2)
        sizes = fake.messages(USER)[1]
        assert sizes.payload["interactive"]["type"] == "button"  # three options: buttons
        await say(url, button_reply(USER, reply_ids(sizes)["Medium"], "Medium"))
        await wait_for(lambda: len(fake.messages(USER)) == 3)
        assert fake.texts(USER)[2] == "How many Medium Four cheese?"
        await say(url, text(USER, "2"))
        await wait_for(lambda: len(fake.messages(USER)) == 4)
        await say(url, text(USER, "1 Main Street"))
        await wait_for(lambda: len(fake.messages(USER)) == 5)
        confirm = fake.messages(USER)[4]
        assert confirm.text == "2 x Medium Four cheese to 1 Main Street. Shall I order?"
        await say(url, button_reply(USER, reply_ids(confirm)["yes"], "yes"))
        await wait_for(lambda: len(fake.messages(USER)) == 6)
        assert fake.texts(USER)[5] == "Ordered! Your Four cheese is on its way to 1 Main Street."
        reads = [r for r in fake.reads if r.message_id]  # type: ignore[attr-defined]
        assert len(reads) >= 6  # each inbound message was marked read, with typing


async def test_the_200_does_not_wait_for_the_flow(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(state_manager: StateManager) -> str:
        started.set()
        await release.wait()
        return "done"

    class Slow(Flow):
        name = "slow"
        ask = Prompt("Go?", initial=True)
        work = Action(slow)
        end = Message("Done.", final=True)
        valid = ask.to(work)
        done = work.to(end)

    fake, graph = fake_graph
    with bot([Slow], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: fake.texts(USER) == ["Go?"])
        response = await post(url, delivery(([text(USER, "go")], [])))
        assert response.status_code == 200  # answered while the action still runs
        assert not release.is_set()
        await asyncio.wait_for(started.wait(), 10)
        release.set()
        await wait_for(lambda: fake.texts(USER) == ["Go?", "Done."])


async def test_duplicate_and_concurrent_deliveries_are_harmless(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([Signup], redis_url, graph) as (url, _):
        first = delivery(([text(USER, "hi")], []))
        await asyncio.gather(*(post(url, first) for _ in range(5)))  # concurrent deliveries
        await wait_for(lambda: len(fake.messages(USER)) >= 1)
        await post(url, first)  # a retry, later
        await asyncio.sleep(0.5)
        assert fake.texts(USER) == ["What's your name?"]


async def test_several_messages_over_entries_in_one_delivery(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    other = "15551230002"
    with bot([Signup], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await say(url, text(other, "hi"))
        await wait_for(lambda: len(fake.messages()) == 2)
        body = delivery(
            ([text(USER, "Ann"), text(other, "Bob")], []),
            ([text(USER, "ann@example.com")], []),
        )
        assert (await post(url, body)).status_code == 200
        await wait_for(lambda: len(fake.messages()) == 5)
        assert fake.texts(USER) == [
            "What's your name?",
            "Thanks Ann! Your email?",
            "Create an account for Ann <ann@example.com>?",  # in order, after Ann
        ]
        assert fake.texts(other) == ["What's your name?", "Thanks Bob! Your email?"]


async def test_statuses_go_to_the_callback_and_failures_are_logged(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Status] = []
    caplog.set_level(logging.WARNING, logger="flowhq")
    with bot([Signup], redis_url, fake_graph[1], on_status=seen.append) as (url, _):
        body = delivery(
            (
                [],
                [
                    status("wamid.A", USER, "sent"),
                    status("wamid.A", USER, "delivered"),
                    status("wamid.B", USER, "failed", code=131047),
                ],
            )
        )
        assert (await post(url, body)).status_code == 200
        await wait_for(lambda: len(seen) == 3)
    assert [s.status for s in seen] == ["sent", "delivered", "failed"]
    assert "could not deliver wamid.B" in caplog.text
    assert "131047" in caplog.text


async def test_a_failing_graph_api_then_redelivery(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    fake.fail_next(10, status=500)
    with bot([Signup], redis_url, graph, redeliver_every=0.3, redelivery_after=0.2) as (url, _):
        await say(url, text(USER, "hi"))
        await asyncio.sleep(0.5)
        assert fake.messages(USER) == []  # every try failed: the reply waits in the outbox
        fake.reset()
        await wait_for(lambda: fake.texts(USER) == ["What's your name?"])
        await asyncio.sleep(0.7)
        assert fake.texts(USER) == ["What's your name?"]  # once


async def test_a_permanent_refusal_is_dropped_and_recorded(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    caplog.set_level(logging.WARNING, logger="flowhq")
    fake.fail_for(USER, status=400, code=131047)
    with bot([Signup], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: "permanent delivery failure" in caplog.text)
        assert "131047" in caplog.text
        fake.reset()
        await say(url, text(USER, "Ann"))
        await wait_for(lambda: fake.texts(USER) == ["Thanks Ann! Your email?"])  # not resent
        loaded = await load(redis_url, USER)
        assert loaded.document is not None
        assert any(e.operation == "delivery" for e in loaded.document.validation.history)


async def test_long_texts_are_split(redis_url: str, fake_graph: tuple[FakeGraphApi, str]) -> None:
    fake, graph = fake_graph
    name = ("Anna-Maria " * 400)[:4090].strip()  # the reply is over WhatsApp's 4,096
    with bot([Signup], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await say(url, text(USER, name))
        await wait_for(lambda: len(fake.messages(USER)) == 3)
        parts = fake.texts(USER)[1:]
        assert all(len(part) <= 4096 for part in parts)
        assert "".join(parts).replace("\n", " ").startswith("Thanks Anna-Maria")


async def test_a_button_of_an_earlier_question_is_not_an_answer(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([PizzaOrder], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: len(fake.messages(USER)) == 1)
        old_rows = reply_ids(fake.messages(USER)[0])
        await say(url, list_reply(USER, old_rows["Veggie"], "Veggie"))
        await wait_for(lambda: len(fake.messages(USER)) == 2)  # the size question
        tap = list_reply(USER, old_rows["Hawaii"], "Hawaii")  # the old menu again
        await say(url, tap)
        await wait_for(lambda: len(fake.messages(USER)) == 4)
        assert fake.texts(USER)[2:] == [
            "That button belongs to an earlier question.",
            "Which size?",
        ]
        assert fake.messages(USER)[2].payload["context"] == {"message_id": tap["id"]}  # quoted


async def test_the_access_token_is_never_logged(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    caplog.set_level(logging.DEBUG)
    fake.fail_next(3, status=500)
    with bot([Signup], redis_url, graph) as (url, hq):
        await say(url, text(USER, "hi"))
        await asyncio.sleep(0.5)
        assert FAKE_TOKEN not in repr(hq.messenger)
    assert FAKE_TOKEN not in caplog.text


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.Redis]:  # type: ignore[type-arg]
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


async def test_a_malformed_delivery_is_refused_with_400_and_processes_nothing(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([Signup], redis_url, graph) as (url, _):
        response = await post(url, b'{"object": "whatsapp_business_account", "entry": "x"}')
        assert response.status_code == 400
        assert "entry" in response.text
        await asyncio.sleep(0.3)
    assert fake.messages() == []


async def test_redis_down_answers_503_and_the_workers_carry_on_when_it_is_back(
    fresh_redis: RedisServer, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flowhq")
    fake, graph = fake_graph
    answer = delivery(([text(USER, "Ann")], []))
    with bot([Signup], fresh_redis.url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: fake.texts(USER) == ["What's your name?"])
        await delivered(fresh_redis.url)  # else sent again after the outage (at-least-once)
        fresh_redis.kill()
        assert (await post(url, answer)).status_code == 503  # not recorded: Meta tries again
        await asyncio.sleep(8.0)  # the workers meet the outage too
        fresh_redis.start()
        assert (await post(url, answer)).status_code == 200  # Meta's retry
        await wait_for(
            lambda: fake.texts(USER) == ["What's your name?", "Thanks Ann! Your email?"],
            seconds=30,
        )
        await wait_for(lambda: "Redis is back" in caplog.text)
    assert caplog.text.count("Redis unreachable") == 1  # once per outage, not per attempt


async def test_a_delivery_over_the_size_limit_is_refused_with_413(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([Signup], redis_url, graph, max_body=2_000) as (url, _):
        big = delivery(([text(USER, "x" * 3_000)], []))
        assert (await post(url, big)).status_code == 413
        async with httpx.AsyncClient() as client:  # no Content-Length: read until the limit
            chunks = [big[i : i + 500] for i in range(0, len(big), 500)]

            async def stream() -> AsyncIterator[bytes]:
                for chunk in chunks:
                    yield chunk

            response = await client.post(
                f"{url}/webhook",
                content=stream(),
                headers={"x-hub-signature-256": sign(big, APP_SECRET)},
            )
        assert response.status_code == 413
        assert (await post(url, delivery(([text(USER, "hi")], [])))).status_code == 200
        await wait_for(lambda: fake.texts(USER) == ["What's your name?"])


async def test_a_redis_outage_is_one_line_as_it_starts_and_one_with_the_count_as_it_ends(
    fresh_redis: RedisServer, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    """No traceback and no line per refused POST or retried update: the outage is logged
    once when it starts and once when it ends, with what it cost in between."""
    fake, graph = fake_graph
    with bot([Signup], fresh_redis.url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: fake.texts(USER) == ["What's your name?"])
        await delivered(fresh_redis.url)
        caplog.set_level(logging.WARNING)
        fresh_redis.kill()
        refused = [await post(url, delivery(([text(USER, f"try {n}")], []))) for n in range(4)]
        await asyncio.sleep(2.0)  # the workers and the queue's balance meet the outage too
        fresh_redis.start()
        await say(url, text(USER, "Ann"))
        await wait_for(lambda: fake.texts(USER)[-1:] == ["Thanks Ann! Your email?"], seconds=30)
        await wait_for(lambda: "Redis is back" in caplog.text)
    assert [r.status_code for r in refused] == [503] * 4
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    lines = [r for r in warned if r.name == "flowhq.inbox"]
    assert [r.levelname for r in lines] == ["WARNING", "WARNING"], caplog.text
    assert "Redis unreachable" in lines[0].getMessage()
    assert "4 deliveries answered 503" in lines[1].getMessage()
    timers = [r.getMessage() for r in warned if r.name == "flowhq.timers"]
    assert len(timers) == 2, caplog.text  # the app's timer loop: once as it starts, once back
    assert "unreachable" in timers[0]
    assert "back" in timers[1]
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_client_that_goes_away_mid_body_leaves_no_traceback(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server_log = logging.getLogger("uvicorn.error")  # uvicorn's loggers do not propagate
    body = delivery(([text(USER, "hi")], []))
    try:
        with bot([Signup], redis_url, fake_graph[1]) as (url, _):
            server_log.addHandler(caplog.handler)  # after uvicorn configured its logging
            host, port = url.removeprefix("http://").split(":")
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"POST /webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                + f"X-Hub-Signature-256: {sign(body, APP_SECRET)}\r\n".encode()
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:20]
            )
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.close()  # gone before the rest of the body
            await wait_for(
                lambda: any(
                    "went away" in r.getMessage() or r.levelno >= logging.ERROR
                    for r in caplog.records
                )
            )
    finally:
        server_log.removeHandler(caplog.handler)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert all(r.exc_info is None for r in caplog.records)


async def test_malformed_json_is_the_senders_mistake_a_warning_without_traceback(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flowhq")
    with bot([Signup], redis_url, fake_graph[1]) as (url, _):
        response = await post(url, b'{"object": "whatsapp_business_account", "entry": [')
    assert response.status_code == 400
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.exc_info) for r in lines] == [("WARNING", None)]
    assert "malformed delivery refused" in lines[0].getMessage()

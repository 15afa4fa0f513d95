"""The operator page's API (``flowhq inbox``, the console's Inbox tab) on a real redis-server.

What people see (paused conversations newest first, how long each waited, how many messages
are unanswered, the transcript with agent names, the results a resume may give), what they
do (reply, resume, pause any conversation), two operators answering at once, replies left to
the bot's workers when the page has no WhatsApp credentials, the console's guard, and the
command's start-up. The page in a browser: test_operator_page_browser.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import attrs
import httpx
import pytest
from starlette.applications import Starlette

from flowhq import (
    Choice,
    ConversationKey,
    Flow,
    Handoff,
    Headquarters,
    InboundMessage,
    Message,
    PausedConversation,
    Prompt,
    RecordingMessenger,
    RedisStore,
)
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.cli import build_parser
from flowhq.cli import inbox as inbox_command
from flowhq.cli._common import CliError
from flowhq.dev.access import Access
from flowhq.dev.app import FlowSource, console_app
from flowhq.dev.operator import OutboxMessenger, inbox_app, resume_results
from flowhq.testing import ManualClock
from flowhq.testing.whatsapp import FakeGraphApi
from tests.channels.whatsapp.fixtures import FAKE_TOKEN, PHONE_NUMBER_ID
from tests.support import served

ANA, BEA = "15550001001", "15550001002"
PAGE = "http://127.0.0.1"
JSON = {"content-type": "application/json"}


class Clinic(Flow):
    """A menu with a way to a receptionist (who may book), and a booking question."""

    name = "clinic"
    menu = Choice(
        "How can we help?", options={"book": "Book a visit", "talk": "Talk to us"}, initial=True
    )
    day = Prompt("Which day?")
    human = Handoff("A receptionist will answer you here.", results=("resumed", "booked"))
    back = Message("Thanks for waiting! Anything else?")
    booked_note = Message("Your visit is booked.", final=True)
    confirmed = Message("See you on {day}.", final=True)

    book = menu.to(day)
    talk = menu.to(human)
    resumed = human.to(back)
    booked = human.to(booked_note)
    valid = day.to(confirmed)
    done = back.to(menu)


def inbound(user: str, message_id: str, text: str, payload: str | None = None) -> InboundMessage:
    return InboundMessage("whatsapp", user, message_id, text, payload=payload)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(redis_url)
    yield store
    await store.close()


def page_client(
    hq: Headquarters,
    *,
    access: Access = Access(),  # noqa: B008 - frozen
    delivery: str = "whatsapp",
    notice: str = "sent from here",
) -> httpx.AsyncClient:
    """A client of the page's app over ``hq``."""
    app = inbox_app(hq, access=access, delivery=delivery, notice=notice)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PAGE)


async def post(client: httpx.AsyncClient, path: str, body: Mapping[str, object]) -> httpx.Response:
    return await client.post(f"/api/inbox/{path}", json=body)


async def test_the_page_lists_answers_resumes_and_pauses(store: RedisStore) -> None:
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Clinic], store=store, messenger=messenger, clock=clock)
    async with page_client(hq) as page:
        # Ana asks for a person; ten minutes later Bea, mid-booking, is paused from the page.
        await hq.handle(inbound(ANA, "a1", "hi"))
        await hq.handle(inbound(ANA, "a2", "Talk to us", payload="talk"))
        clock.advance(timedelta(minutes=10))
        await hq.handle(inbound(BEA, "b1", "hi"))
        await hq.handle(inbound(BEA, "b2", "Book a visit", payload="book"))
        paused = await post(page, "pause", {"channel": "whatsapp", "identifier": BEA})
        assert paused.json()["paused"] is True
        assert paused.json()["key"] == f"whatsapp:{BEA}"
        clock.advance(timedelta(minutes=5))
        await hq.handle(inbound(ANA, "a3", "I need to move my visit"))
        await hq.handle(inbound(ANA, "a4", "<b>hello?</b>"))

        listed = (await page.get("/api/inbox/paused")).json()
        assert [item["identifier"] for item in listed["items"]] == [BEA, ANA]  # newest first
        bea, ana = listed["items"]
        assert listed["now"] - ana["since_epoch"] == 15 * 60
        assert listed["now"] - bea["since_epoch"] == 5 * 60
        assert (ana["waiting"], ana["state"], ana["results"]) == (2, "human", ["resumed", "booked"])
        assert (bea["waiting"], bea["state"], bea["results"]) == (0, None, ["resumed"])

        reply = await post(
            page, "reply", {"key": f"whatsapp:{ANA}", "text": "Moved to Friday.", "agent": "Eva"}
        )
        assert reply.json()["delivery"] == "sent"
        asked = {"key": f"whatsapp:{ANA}"}
        shown = (await page.get("/api/inbox/conversation", params=asked)).json()
        assert [(e["direction"], e["text"], e["agent"]) for e in shown["transcript"][-4:]] == [
            ("out", "A receptionist will answer you here.", None),
            ("in", "I need to move my visit", None),
            ("in", "<b>hello?</b>", None),  # as written: the page shows it as text
            ("out", "Moved to Friday.", "Eva"),
        ]
        waiting = (await page.get("/api/inbox/paused")).json()["items"][1]["waiting"]
        assert waiting == 0

        refused = await post(page, "resume", {"key": f"whatsapp:{ANA}", "result": "cancelled"})
        assert refused.status_code == 400
        assert "resumes with one of" in refused.json()["error"]
        resumed = await post(page, "resume", {"key": f"whatsapp:{ANA}", "result": "booked"})
        assert resumed.json()["replies"] == ["Your visit is booked."]
        resumed = await post(page, "resume", {"key": f"whatsapp:{BEA}"})
        assert resumed.json()["replies"] == ["Which day?"]  # asked again where Bea was
        assert (await page.get("/api/inbox/paused")).json()["items"] == []
        sent = messenger.texts(ConversationKey("whatsapp", ANA))
        assert sent[-2:] == ["Moved to Friday.", "Your visit is booked."]
    await hq.aclose()


async def test_the_page_refuses_what_the_api_refuses(store: RedisStore) -> None:
    hq = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger())
    async with page_client(hq) as page:
        key = f"whatsapp:{ANA}"
        assert (await post(page, "reply", {"key": key, "text": "  "})).status_code == 400
        assert (await post(page, "reply", {"key": "no-channel", "text": "hi"})).status_code == 400
        assert (await post(page, "pause", {"channel": "whatsapp"})).status_code == 400
        too_long = {"key": key, "text": "x" * 5000}
        assert (await post(page, "reply", too_long)).status_code == 400
        assert (await page.get("/api/inbox/paused", params={"limit": "0"})).status_code == 400
        assert (await page.get("/api/inbox/conversation")).status_code == 400
    await hq.aclose()


async def test_the_page_is_guarded_like_the_console(store: RedisStore) -> None:
    hq = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger())
    access = Access.serving("0.0.0.0", token="s3cret-token")
    async with page_client(hq, access=access) as page:
        assert (await page.get("/api/inbox/paused")).status_code == 401
        assert (await page.get("/?token=wrong")).status_code == 401
        bearer = {"authorization": "Bearer s3cret-token"}
        assert (await page.get("/api/inbox/paused", headers=bearer)).status_code == 200
        assert (await page.get("/?token=s3cret-token")).status_code == 200
        body = {"channel": "whatsapp", "identifier": ANA}
        other_site = {**bearer, **JSON, "origin": "http://evil.example"}
        response = await page.post("/api/inbox/pause", json=body, headers=other_site)
        assert response.status_code == 403
        form = {**bearer, "content-type": "application/x-www-form-urlencoded"}
        response = await page.post("/api/inbox/pause", content=b"channel=whatsapp", headers=form)
        assert response.status_code == 415
        rebound = {**bearer, "host": "attacker.example"}
        assert (await page.get("/api/inbox/paused", headers=rebound)).status_code == 400
        assert await hq.paused_conversations() == []
        assert (await page.get("/static/inbox.js")).status_code == 200  # no secret in it
        page_html = (await page.get("/?token=s3cret-token")).text
        assert "s3cret-token" not in page_html
    await hq.aclose()


async def test_two_operators_answering_at_once_lose_nothing(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Two page processes (two Headquarters on one Redis) reply at once, twenty times.

    The commit decides the order: every reply is in the transcript once, in the order of
    the revisions that committed them, and WhatsApp received each exactly once.
    """
    fake, graph_url = fake_graph
    caplog.set_level(logging.DEBUG, logger="flowhq.headquarters")
    stores = [RedisStore.from_url(redis_url) for _ in range(2)]
    hqs = [
        Headquarters(
            flows=[Clinic],
            store=store,
            messenger=WhatsAppMessenger(
                phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph_url
            ),
        )
        for store in stores
    ]
    await hqs[0].handle(inbound(ANA, "a1", "hi"))
    await hqs[0].handle(inbound(ANA, "a2", "Talk to us", payload="talk"))
    fake.reset()
    key = f"whatsapp:{ANA}"
    revisions: dict[str, int] = {}
    async with page_client(hqs[0]) as eva, page_client(hqs[1]) as max_:
        for round_ in range(20):
            texts = [f"Eva says {round_}.", f"Max says {round_}."]
            answers = await asyncio.gather(
                post(eva, "reply", {"key": key, "text": texts[0], "agent": "Eva"}),
                post(max_, "reply", {"key": key, "text": texts[1], "agent": "Max"}),
            )
            for text, answer in zip(texts, answers, strict=True):
                assert answer.status_code == 200, answer.text
                assert answer.json()["delivery"] == "sent"
                revisions[text] = answer.json()["revision"]
        shown = (await eva.get("/api/inbox/conversation", params={"key": key})).json()
    kept = [(e["text"], e["agent"]) for e in shown["transcript"] if e["agent"]]
    in_commit_order = sorted(revisions, key=revisions.__getitem__)
    assert [text for text, _ in kept] == in_commit_order
    assert all(agent == text.split()[0] for text, agent in kept)
    assert len(set(revisions.values())) == 40  # forty commits, none merged or lost
    assert sorted(fake.texts(ANA)) == sorted(revisions)  # each sent exactly once
    assert any("conflict on" in r.getMessage() for r in caplog.records)  # they did collide
    for hq in hqs:
        await hq.aclose()


async def test_without_credentials_replies_are_left_to_the_bots_workers(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The page's Headquarters sends nothing; the bot's redelivery sends each reply once.

    ``Headquarters(messenger=None)`` would keep no outbox: the reply would be lost.
    """
    fake, graph_url = fake_graph
    bot_store, page_store = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    bot = Headquarters(
        flows=[Clinic],
        store=bot_store,
        messenger=WhatsAppMessenger(
            phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph_url
        ),
    )
    operator = Headquarters(flows=[Clinic], store=page_store, messenger=OutboxMessenger())
    await bot.handle(inbound(ANA, "a1", "hi"))
    await bot.handle(inbound(ANA, "a2", "Book a visit", payload="book"))
    fake.reset()
    key = f"whatsapp:{ANA}"
    caplog.set_level(logging.INFO)
    async with page_client(operator, delivery="outbox", notice="left") as page:
        assert (await post(page, "pause", {"channel": "whatsapp", "identifier": ANA})).is_success
        await bot.handle(inbound(ANA, "a3", "can I come monday?"))  # paused: no answer
        reply = await post(page, "reply", {"key": key, "text": "Monday is full.", "agent": "Eva"})
        assert reply.json()["delivery"] == "left to the bot's workers"
        resumed = await post(page, "resume", {"key": key})
        assert resumed.json()["replies"] == ["Which day?"]
    assert fake.texts(ANA) == []
    assert await bot.redeliver() == 2  # stalled entries go at once, whatever their age
    assert fake.texts(ANA) == ["Monday is full.", "Which day?"]
    assert await bot.redeliver(older_than=0) == 0
    assert fake.texts(ANA) == ["Monday is full.", "Which day?"]
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING and ANA in r.getMessage()]
    assert noisy == []  # handing over is not a failure, and names nobody in the logs
    await operator.aclose()
    await bot.aclose()


async def test_a_reply_left_to_the_workers_goes_before_the_bots_next_answer(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph_url = fake_graph
    bot = Headquarters(
        flows=[Clinic],
        store=RedisStore.from_url(redis_url),
        messenger=WhatsAppMessenger(
            phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph_url
        ),
    )
    operator = Headquarters(
        flows=[Clinic], store=RedisStore.from_url(redis_url), messenger=OutboxMessenger()
    )
    await bot.handle(inbound(ANA, "a1", "hi"))
    await bot.handle(inbound(ANA, "a2", "Book a visit", payload="book"))
    await operator.pause("whatsapp", ANA)
    await operator.reply_as_agent("whatsapp", ANA, "I'll hand you back.", agent="Eva")
    await operator.resume("whatsapp", ANA)
    fake.reset()
    await bot.handle(inbound(ANA, "a3", "Monday"))  # the bot's next answer, no redelivery
    assert fake.texts(ANA) == ["I'll hand you back.", "Which day?", "See you on Monday."]
    await operator.aclose()
    await bot.aclose()


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["inbox", "tests.dev.test_operator_page:Clinic", *argv])


@contextlib.asynccontextmanager
async def serving(app: Starlette, base_url: str = PAGE) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` inside its lifespan (which closes its Headquarters)."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


async def test_the_command_says_how_replies_leave(redis_url: str) -> None:
    out = io.StringIO()
    args = parse("--redis", redis_url)
    async with serving(inbox_command.build(args, out, env={})):
        lines = out.getvalue().splitlines()
    assert lines[0].startswith("flowhq inbox: http://127.0.0.1:8766/  (clinic;")
    assert lines[1].startswith("replies: agent replies are committed to the outbox and sent")

    out = io.StringIO()
    env = {"WHATSAPP_TOKEN": FAKE_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID}
    async with serving(inbox_command.build(args, out, env=env)) as page:
        assert (await page.get("/api/inbox/info")).json()["delivery"] == "whatsapp"
    assert "sent through the WhatsApp Cloud API from here" in out.getvalue()
    assert FAKE_TOKEN not in out.getvalue()

    with pytest.raises(CliError, match="set both"):
        inbox_command.build(args, io.StringIO(), env={"WHATSAPP_TOKEN": FAKE_TOKEN})


async def test_beyond_loopback_the_command_generates_a_token_shown_once(redis_url: str) -> None:
    out = io.StringIO()
    args = parse("--redis", redis_url, "--host", "0.0.0.0", "--port", "9999")
    app = inbox_command.build(args, out, env={})
    text = out.getvalue()
    token = text.split("?token=")[1].split()[0]
    assert text.count(token) == 1
    async with serving(app, "http://127.0.0.1:9999") as client:
        assert (await client.get("/api/inbox/info")).status_code == 401
        info = await client.get("/api/inbox/info", headers={"authorization": f"Bearer {token}"})
        assert info.json()["delivery"] == "outbox"
        assert token not in info.text


def chat_texts(client: httpx.Client, user: str, count: int) -> list[str]:
    """The simulated chat's bubbles once it has ``count`` (or after ten seconds)."""
    deadline = time.monotonic() + 10
    while True:
        found = [str(e["text"]) for e in client.get(f"/api/chat/{user}").json()["entries"]]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_the_consoles_inbox_tab_answers_the_simulated_users() -> None:
    app = console_app(FlowSource.of([Clinic]), [Clinic], reload_every=0)
    with served(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as console:
        user = console.get("/api/info").json()["users"][0]
        console.post(f"/api/chat/{user}/text", json={"text": "hi"})
        chat_texts(console, user, 2)
        tap = {"id": "talk", "title": "Talk to us", "row": False}
        console.post(f"/api/chat/{user}/tap", json=tap)
        assert chat_texts(console, user, 4)[-1] == "A receptionist will answer you here."
        console.post(f"/api/chat/{user}/text", json={"text": "are you there?"})

        listed = console.get("/api/inbox/paused").json()["items"]
        assert [(item["identifier"], item["results"]) for item in listed] == [
            (user, ["resumed", "booked"])
        ]
        assert console.get("/api/inbox/info").json()["delivery"] == "console"
        key = listed[0]["key"]
        reply = {"key": key, "text": "Yes, Eva here.", "agent": "Eva"}
        assert console.post("/api/inbox/reply", json=reply).json()["delivery"] == "sent"
        assert chat_texts(console, user, 6)[-1] == "Yes, Eva here."
        console.post("/api/inbox/resume", json={"key": key, "result": "resumed"})
        texts = chat_texts(console, user, 8)
        assert texts[-2:] == ["Thanks for waiting! Anything else?", "How can we help?"]
        assert console.get("/api/inbox/paused").json()["items"] == []


async def test_a_reply_outside_the_service_window_is_said_not_sent(store: RedisStore) -> None:
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    messenger = RecordingMessenger(service_window=24 * 3600)
    hq = Headquarters(flows=[Clinic], store=store, messenger=messenger, clock=clock)
    await hq.handle(inbound(ANA, "a1", "hi"))
    await hq.handle(inbound(ANA, "a2", "Talk to us", payload="talk"))
    key = f"whatsapp:{ANA}"
    async with page_client(hq) as page:
        reply = await post(page, "reply", {"key": key, "text": "Hello!", "agent": "Eva"})
        assert reply.json()["delivery"] == "sent"
        clock.advance(timedelta(hours=25))
        reply = await post(page, "reply", {"key": key, "text": "Still there?", "agent": "Eva"})
        assert reply.json()["delivery"].startswith("not sent: outside the channel's")
    assert messenger.texts()[-1] == "Hello!"
    await hq.aclose()


def test_resume_results_come_from_the_handoff_state_wherever_it_is() -> None:
    flows: dict[str, type[Flow]] = {"clinic": Clinic}
    paused = PausedConversation(
        channel="whatsapp",
        identifier=ANA,
        since="2026-12-01T09:00:00+00:00",
        reason="handoff",
        state="human",
        flow=None,  # the flow it is in is unknown: the state is looked up in every flow
        last_inbound_at=None,
        waiting=0,
    )
    assert resume_results(flows, paused) == ["resumed", "booked"]
    assert resume_results(flows, attrs.evolve(paused, state="renamed")) == ["resumed"]
    assert resume_results(flows, attrs.evolve(paused, state=None)) == ["resumed"]


@pytest.mark.parametrize("ttl", [None, 3600])
async def test_the_page_keeps_the_bots_ttl_when_given(
    redis_url: str, store: RedisStore, ttl: int | None
) -> None:
    bot = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger(), ttl=3600)
    await bot.handle(inbound(ANA, "a1", "hi"))
    name = store.keys.key(ConversationKey("whatsapp", ANA))
    out = io.StringIO()
    argv = ["--redis", redis_url, *([] if ttl is None else ["--ttl", str(ttl)])]
    async with serving(inbox_command.build(parse(*argv), out, env={})) as page:
        body = {"channel": "whatsapp", "identifier": ANA}
        assert (await page.post("/api/inbox/pause", json=body)).is_success
    left = await store.client.pttl(name)
    if ttl is None:
        assert left == -1  # kept without expiry, as the start-up line warns
        assert "no --ttl" in out.getvalue()
    else:
        assert 0 < left <= 3600 * 1000
        assert "no --ttl" not in out.getvalue()


async def test_with_the_bots_token_keys_the_page_reads_real_tokens(redis_url: str) -> None:
    from flowhq.persistence.secrets import TokenCipher

    key = TokenCipher.generate_key()
    bot_store = RedisStore.from_url(redis_url, token_keys=[key])
    bot = Headquarters(flows=[Clinic], store=bot_store)
    await bot.initialize("whatsapp", ANA, auth_token="tok-plain-77")
    await bot_store.close()
    conversation = ConversationKey("whatsapp", ANA)
    args = parse("--redis", redis_url)

    with_keys = inbox_command._store(args, {"FLOWHQ_TOKEN_KEYS": f" {key} ,"})
    loaded = await with_keys.load(conversation)
    assert loaded.document is not None
    assert loaded.document.auth.token == "tok-plain-77"
    await with_keys.close()

    without = inbox_command._store(args, {})
    loaded = await without.load(conversation)
    assert loaded.document is not None
    assert loaded.document.auth.token != "tok-plain-77"  # left as stored, encrypted
    await without.close()

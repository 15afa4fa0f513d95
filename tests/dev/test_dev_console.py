"""The dev console's API: the simulator end to end, its timers on the console's own clock,
the inspector on a real redis-server holding a few hundred conversations (listing, filters,
the funnel against the truth, read-only refusals), and the console safe on a network (the
hosts it answers as, cross-site writes, the access token beyond loopback or for a non-local
Redis). The page itself: test_dev_console_browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from examples.demo_api import DemoApi
from examples.pizza import PizzaOrder
from examples.signup import Signup
from flowhq import (
    Confirm,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    Message,
    Prompt,
    RedisStore,
)
from flowhq.cli import main
from flowhq.cli.dev import address, is_local
from flowhq.dev.access import Access, needs_token
from flowhq.dev.app import FlowSource, console_app
from flowhq.dev.clock import ConsoleClock
from flowhq.dev.inspector import outbox_status
from flowhq.persistence.codec import JsonCodec
from flowhq.persistence.store import Loaded
from flowhq.state.document import Channel, ConversationDocument, OutboxEntry
from flowhq.testing import no_api
from tests.redis_servers import RedisServer
from tests.support import free_port, served

ROOT = Path(__file__).resolve().parents[2]


def demo_api() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=DemoApi()), base_url="http://demo")


@pytest.fixture
def console() -> Iterator[httpx.Client]:
    app = console_app(FlowSource.of([PizzaOrder]), [PizzaOrder], api=demo_api(), reload_every=0)
    with served(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


class Appointment(Flow):
    """A question with a reminder and a timeout, then a confirmation that waits two days.

    ``flowhq dev tests.dev.test_dev_console:Appointment`` in the browser test.
    """

    name = "appointment"
    commands = {"cancel": "cancel"}
    day = Prompt(
        "Which day suits you?",
        timeout=timedelta(hours=1),
        reminders=[(timedelta(minutes=10), "Still there? Which day suits you?")],
        initial=True,
    )
    sure = Confirm("Book {day}?", timeout=timedelta(days=2))
    booked = Message("See you on {day}.", final=True)
    expired = Message("No answer, so no booking. Write again when you're ready.", final=True)
    dropped = Message("Cancelled.", final=True)

    valid = day.to(sure)
    yes = sure.to(booked)
    no = sure.to(day)
    timeout = day.to(expired) | sure.to(expired)
    cancel = day.to(dropped) | sure.to(dropped)


@pytest.fixture
def appointments() -> Iterator[httpx.Client]:
    app = console_app(FlowSource.of([Appointment]), [Appointment], reload_every=0)
    with served(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def entries(client: httpx.Client, user: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        found = client.get(f"/api/chat/{user}").json()["entries"]
        if len(found) >= count or time.monotonic() > deadline:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_the_simulator_runs_the_real_channel_code(console: httpx.Client) -> None:
    user = console.get("/api/info").json()["users"][0]
    console.post(f"/api/chat/{user}/text", json={"text": "hi"})
    chat = entries(console, user, 2)
    assert chat[0]["direction"] == "in"
    menu = chat[1]
    assert (menu["kind"], menu["label"]) == ("list", "See pizzas")  # a WhatsApp list
    rows = {row["title"]: row["id"] for row in menu["options"]}  # type: ignore[attr-defined]
    assert "~" in rows["Four cheese"]  # the id carries the question's tag
    console.post(
        f"/api/chat/{user}/tap",
        json={"id": rows["Four cheese"], "title": "Four cheese", "row": True},
    )
    sizes = entries(console, user, 4)[3]
    assert sizes["kind"] == "buttons"
    state = console.get(f"/api/state/{user}").json()
    assert state["conversation"]["document"]["current"]["values"]["pizza"] == "four-cheese"
    assert state["conversation"]["document"]["current"]["labels"]["pizza"] == "Four cheese"
    assert state["timeline"][-1]["transitions"] == [
        {"source": "pizza", "target": "size", "event": "chosen"}
    ]
    svg = console.get(f"/api/diagram/pizza_order.svg?user={user}").text
    assert 'id="state&#45;size" class="node active"' in svg
    assert 'class="edge taken"' in svg


def test_forcing_a_result_walks_the_error_branch(console: httpx.Client) -> None:
    user = console.post("/api/users", json={}).json()["user"]
    for text in ("hi", "margherita", "l", "2", "1 Main Street"):
        console.post(f"/api/chat/{user}/text", json={"text": text})
        time.sleep(0.1)
    answer = console.post(f"/api/chat/{user}/force", json={"state": "place", "result": "error"})
    assert answer.status_code == 200
    refused = console.post(f"/api/chat/{user}/force", json={"state": "place", "result": "nope"})
    assert refused.status_code == 404
    console.post(f"/api/chat/{user}/text", json={"text": "yes"})
    texts = [e["text"] for e in entries(console, user, 14)]
    assert "Our kitchen is not answering. Please try again later." in texts


def test_whatsapp_limits_show_as_whatsapp_would_refuse(console: httpx.Client) -> None:
    user = console.get("/api/info").json()["users"][0]
    console.post(f"/api/chat/{user}/text", json={"text": "x" * 5000})  # over 4,096
    chat = entries(console, user, 2)
    assert chat[-1]["text"].startswith("That message is too long")  # type: ignore[union-attr]


def test_generated_paths_replay_step_by_step(console: httpx.Client) -> None:
    user = console.post("/api/users", json={}).json()["user"]
    paths = console.get("/api/paths/pizza_order").json()["paths"]
    path = next(p for p in paths if p["finished"])
    for move in range(len(path["moves"])):
        answer = console.post(
            f"/api/chat/{user}/replay",
            json={"flow": "pizza_order", "path": paths.index(path), "move": move},
        )
        assert answer.status_code == 200
        time.sleep(0.2)
    state = console.get(f"/api/state/{user}").json()
    assert state["timeline"][-1]["finished"]


def test_the_outbox_lists_only_replies_still_to_send(console: httpx.Client) -> None:
    """A delivered reply stays in the stored document until the next commit; the state's
    ``outbox`` marks it delivered instead of listing it as waiting."""
    user = console.get("/api/info").json()["users"][0]
    console.post(f"/api/chat/{user}/text", json={"text": "hi"})
    entries(console, user, 2)  # the menu arrived: its reply went out
    shown = console.get(f"/api/state/{user}").json()["conversation"]
    assert len(shown["document"]["outbox"]) == 1  # still in the document...
    assert shown["outbox"] == [  # ...but not waiting
        {
            "revision": shown["revision"],
            "text": "Which pizza would you like?",
            "status": "delivered",
            "reason": None,
        }
    ]


def test_the_outbox_status_of_each_entry() -> None:
    document = ConversationDocument(channel=Channel("whatsapp", "15550001001"))
    document.outbox = [
        OutboxEntry(3, "sent"),
        OutboxEntry(4, "first of two, sent"),
        OutboxEntry(4, "second of two, waiting"),
        OutboxEntry(5, "refused"),
        OutboxEntry(6, "waiting"),
    ]
    loaded = Loaded(document, 6, delivered=frozenset({3}), progress={4: 1}, failures={5: "blocked"})
    assert [(e["text"], e["status"], e["reason"]) for e in outbox_status(loaded)] == [
        ("sent", "delivered", None),
        ("first of two, sent", "delivered", None),
        ("second of two, waiting", "pending", None),
        ("refused", "failed", "blocked"),
        ("waiting", "pending", None),
    ]


# -- time ------------------------------------------------------------------------------------


def timers(client: httpx.Client, user: str) -> list[dict[str, object]]:
    return client.get(f"/api/timers/{user}").json()["timers"]  # type: ignore[no-any-return]


def texts(client: httpx.Client, user: str) -> list[str]:
    return [str(e["text"]) for e in client.get(f"/api/chat/{user}").json()["entries"]]


def asked(client: httpx.Client) -> str:
    """The first simulated user, once the appointment's question reached them."""
    user: str = client.get("/api/info").json()["users"][0]
    client.post(f"/api/chat/{user}/text", json={"text": "hi"})
    assert entries(client, user, 2)[-1]["text"] == "Which day suits you?"
    return user


def test_the_console_clock_follows_real_time_and_jumps_ahead() -> None:
    real = [100.0]
    start = datetime.datetime(2030, 5, 1, 9, 0, tzinfo=datetime.UTC)
    clock = ConsoleClock(start, elapsed=lambda: real[0])
    assert clock() == start
    real[0] += 90
    assert clock() == start + timedelta(seconds=90)
    assert clock.advance(timedelta(hours=1)) == start + timedelta(hours=1, seconds=90)
    assert clock.ahead == 3600
    assert clock.advance_to(start.timestamp()) == start + timedelta(hours=1, seconds=90)
    assert clock.ahead == 3600  # a time already past does not move it
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)
    assert clock.ahead == 3600


def test_restart_asks_the_first_question_again(appointments: httpx.Client) -> None:
    """Restarting keeps when the user last wrote, so WhatsApp's window stays open and the
    question is sent (a deleted conversation forgot it: the question was dropped)."""
    user = asked(appointments)
    appointments.post(f"/api/chat/{user}/text", json={"text": "Monday"})
    assert entries(appointments, user, 4)[-1]["text"] == "Book Monday?"
    assert appointments.post(f"/api/chat/{user}/restart", json={}).status_code == 200
    chat = appointments.get(f"/api/chat/{user}").json()["entries"]
    assert [(e["direction"], e["text"]) for e in chat[-2:]] == [
        ("system", "Conversation restarted."),
        ("out", "Which day suits you?"),
    ]
    assert [t["kind"] for t in timers(appointments, user)] == ["reminder", "timeout"]


def test_a_users_pending_timers_are_listed_against_the_console_clock(
    appointments: httpx.Client,
) -> None:
    user = asked(appointments)
    shown = appointments.get(f"/api/timers/{user}").json()
    assert shown["ahead"] == 0
    listed = shown["timers"]
    assert [(t["kind"], t["state"], t["number"]) for t in listed] == [
        ("reminder", "day", 1),
        ("timeout", "day", 0),
    ]
    assert [round(t["due"] - listed[0]["due"]) for t in listed] == [0, 3000]  # +10 min, +1 h
    for timer in listed:
        assert timer["in"] == pytest.approx(timer["due"] - shown["now"])
        assert 0 < timer["in"] <= {"reminder": 600, "timeout": 3600}[timer["kind"]]
    assert timers(appointments, "15550009999") == []  # nobody there: nothing pending


def test_fire_now_moves_the_clock_to_the_timer_and_fires_it(appointments: httpx.Client) -> None:
    user = asked(appointments)
    reminder, timeout = timers(appointments, user)
    fired = appointments.post(f"/api/timers/{user}/fire", json={"timer": reminder["id"]}).json()
    assert fired["fired"] == [reminder["id"]]
    assert fired["now"] >= reminder["due"]
    assert 0 < fired["ahead"] <= 600
    # The reply went through the messenger and the fake Graph API, into the chat.
    assert texts(appointments, user)[-1] == "Still there? Which day suits you?"
    assert [t["id"] for t in timers(appointments, user)] == [timeout["id"]]
    again = appointments.post(f"/api/timers/{user}/fire", json={"timer": reminder["id"]})
    assert again.status_code == 404  # fired once, gone
    assert "no pending timer" in again.json()["error"]
    step = appointments.get(f"/api/state/{user}").json()["timeline"][-1]
    assert step["message"] == f"timer:{reminder['id']}"
    assert step["replies"] == ["Still there? Which day suits you?"]


def test_advancing_the_clock_fires_what_falls_due_in_order(appointments: httpx.Client) -> None:
    """A day ahead passes the reminder (+10 min) and then the timeout (+1 h): both go out, in
    that order, as the time passing would have sent them."""
    user = asked(appointments)
    moved = appointments.post("/api/clock", json={"advance": 86400}).json()
    assert moved["fired"] == 2
    assert moved["ahead"] == pytest.approx(86400)
    assert texts(appointments, user)[-2:] == [
        "Still there? Which day suits you?",
        "No answer, so no booking. Write again when you're ready.",
    ]
    assert timers(appointments, user) == []
    assert appointments.get("/api/clock").json()["ahead"] == pytest.approx(86400)
    assert appointments.get("/api/info").json()["clock"]["ahead"] == pytest.approx(86400)
    fired = [s["fired"] for s in appointments.get(f"/api/state/{user}").json()["timeline"]]
    assert fired[-1] == [{"state": "day", "result": "timeout"}]
    assert appointments.post("/api/clock", json={"advance": 60}).json()["fired"] == 0


def test_a_timer_outside_whatsapps_window_is_shown_not_sent(appointments: httpx.Client) -> None:
    """The confirmation's timeout comes two days after the user last wrote: WhatsApp's
    24-hour window has closed, so the reply is not sent, and the chat says why."""
    user = asked(appointments)
    appointments.post(f"/api/chat/{user}/text", json={"text": "Monday"})
    assert entries(appointments, user, 4)[-1]["text"] == "Book Monday?"
    assert appointments.post("/api/clock", json={"advance": 3 * 86400}).json()["fired"] == 1
    last = appointments.get(f"/api/chat/{user}").json()["entries"][-1]
    assert (last["direction"], last["kind"]) == ("system", "refused")
    assert "customer-service window" in last["text"]
    assert "No answer, so no booking." in last["text"]
    assert timers(appointments, user) == []


@pytest.mark.parametrize("advance", [0, -60, "60", True, None, 400 * 86400])
def test_the_clock_refuses_a_bad_amount(appointments: httpx.Client, advance: object) -> None:
    answer = appointments.post("/api/clock", json={"advance": advance})
    assert answer.status_code == 404
    assert "error" in answer.json()
    assert appointments.get("/api/clock").json()["ahead"] == 0


def test_timer_routes_follow_the_consoles_rules(appointments: httpx.Client) -> None:
    """Writes are same-origin JSON, as for every other route: another site cannot move the
    clock or fire a user's timer."""
    user = asked(appointments)
    (reminder, _) = timers(appointments, user)
    writes = [
        ("/api/clock", '{"advance": 3600}'),
        (f"/api/timers/{user}/fire", f'{{"timer": "{reminder["id"]}"}}'),
    ]
    for path, body in writes:
        for headers in FROM_ANOTHER_SITE:
            refused = appointments.post(
                path, content=body, headers={"content-type": "application/json", **headers}
            )
            assert refused.status_code == 403, (path, headers)
        plain = appointments.post(path, content=body, headers={"content-type": "text/plain"})
        assert plain.status_code == 415
    assert appointments.get("/api/clock").json()["ahead"] == 0
    assert len(timers(appointments, user)) == 2
    for headers in FROM_ANOTHER_SITE:
        assert appointments.get(f"/api/timers/{user}", headers=headers).status_code == 403
    own = appointments.post("/api/clock", json={"advance": 60}, headers=own_page(appointments))
    assert own.status_code == 200


# -- the inspector on real data -------------------------------------------------------------


async def populate(url: str) -> Counter[str]:
    """A few hundred conversations at known positions; returns the truth per position."""
    store = RedisStore.from_url(url)
    hq = Headquarters(flows=[PizzaOrder, Signup], store=store, api=demo_api())
    truth: Counter[str] = Counter()

    async def user(n: int, messages: list[str], label: str) -> None:
        for m, text in enumerate(messages):
            await hq.handle(InboundMessage("whatsapp", f"+1555{n:06d}", f"m{m}", text))
        truth[label] += 1

    plan = (
        [(["hi"], "pizza")] * 120
        + [(["hi", "veggie"], "size")] * 80
        + [(["hi", "cancel"], "cancelled")] * 50
        + [(["hi", "hawaii", "m", "x", "y", "z"], "exhausted")] * 30
        + [(["hi", "veggie", "s", "1"], "address")] * 20
    )
    await asyncio.gather(*(user(n, messages, label) for n, (messages, label) in enumerate(plan)))
    # Ten conversations whose user went quiet two days ago: the funnel counts them as expired.
    codec = JsonCodec()
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)).isoformat()
    for n in range(280, 290):  # ten of the users who stopped at the address
        key = ConversationKey("whatsapp", f"+1555{n:06d}")
        loaded = await store.load(key)
        assert loaded.document is not None
        loaded.document.metadata.updated_at = old
        await store.commit(
            key, codec.decode(str(key), codec.encode(loaded.document)), expected=loaded.revision
        )
    truth["address"] -= 10
    truth["expired"] += 10
    await store.close()
    return truth


@pytest.fixture
def inspected(redis_url: str) -> Iterator[tuple[httpx.Client, Counter[str]]]:
    truth = asyncio.run(populate(redis_url))
    store = RedisStore.from_url(redis_url)
    store.codec = JsonCodec(opaque_tokens=True)
    app = console_app(
        FlowSource.of([PizzaOrder]),
        [PizzaOrder, Signup],
        api=no_api(),
        inspect_store=store,
        reload_every=0,
    )
    with served(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client, truth


def test_listing_pages_through_every_conversation_with_scan(
    inspected: tuple[httpx.Client, Counter[str]],
) -> None:
    client, truth = inspected
    seen: list[str] = []
    cursor, pages = "0", 0
    while True:
        page = client.get("/api/conversations", params={"cursor": cursor, "count": 40}).json()
        seen += [item["key"] for item in page["items"]]
        pages += 1
        cursor = page["cursor"]
        if cursor == "0":
            break
    assert len(seen) == len(set(seen)) == sum(truth.values())
    assert pages > 2


def test_filters_by_flow_and_state(inspected: tuple[httpx.Client, Counter[str]]) -> None:
    client, truth = inspected

    def count(**filters: str) -> int:
        total, cursor = 0, "0"
        while True:
            page = client.get(
                "/api/conversations", params={"cursor": cursor, "count": 100, **filters}
            ).json()
            total += len(page["items"])
            cursor = page["cursor"]
            if cursor == "0":
                return total

    assert count(flow="pizza_order", state="size") == truth["size"]
    assert count(flow="pizza_order", state="pizza") == truth["pizza"]
    assert count(flow="signup") == 0


def test_the_funnel_matches_the_truth(inspected: tuple[httpx.Client, Counter[str]]) -> None:
    client, truth = inspected
    funnel = client.get("/api/funnel/pizza_order").json()
    assert funnel["sampled"] is False
    assert funnel["waiting"] == {
        state: truth[state] for state in ("pizza", "size", "address") if truth[state]
    }
    assert funnel["ended"] == {
        "cancelled": truth["cancelled"],
        "exhausted": truth["exhausted"],
        "expired": truth["expired"],
    }
    sampled = client.get("/api/funnel/pizza_order", params={"sample": 50}).json()
    assert sampled["sampled"] is True
    assert sampled["read"] == 50
    assert sampled["total"] >= sum(truth.values())


def test_the_inspector_is_read_only_by_default(
    inspected: tuple[httpx.Client, Counter[str]],
) -> None:
    client, _ = inspected
    key = client.get("/api/conversations").json()["items"][0]["key"]
    refused = client.post(f"/api/conversations/{key}", json={})
    assert refused.status_code == 403
    assert client.get(f"/api/conversations/{key}").status_code == 200  # still there


async def test_reset_only_with_allow_reset(redis_url: str) -> None:
    await populate(redis_url)
    store = RedisStore.from_url(redis_url)
    app = console_app(
        FlowSource.of([PizzaOrder]),
        [PizzaOrder],
        api=no_api(),
        inspect_store=store,
        allow_reset=True,
        reload_every=0,
    )
    with served(app, lifespan="on") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            key = "whatsapp:+1555000000"
            deleted = await client.post(f"/api/conversations/{key}", json={})
            assert deleted.json() == {"deleted": True}
            assert (await client.get(f"/api/conversations/{key}")).status_code == 404


async def test_secrets_never_reach_the_page(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[PizzaOrder], store=store, api=no_api())
    await hq.initialize(
        "whatsapp",
        "+15550009999",
        auth_token="sekret-tok",
        dashboard={"api_key": "k-123", "plan": "gold"},
    )
    await hq.handle(InboundMessage("whatsapp", "+15550009999", "m1", "hi"))
    await store.close()
    inspect = RedisStore.from_url(redis_url)  # the console's own: it runs in the server's loop
    source = FlowSource.of([PizzaOrder])
    app = console_app(source, [PizzaOrder], api=no_api(), inspect_store=inspect, reload_every=0)
    with served(app, lifespan="on") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            shown = (await client.get("/api/conversations/whatsapp:+15550009999")).text
    assert "sekret-tok" not in shown
    assert "k-123" not in shown
    assert "gold" in shown  # not every dashboard value is a secret


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("redis://localhost:6379/0", True),
        ("redis://127.0.0.1:6379", True),
        ("unix:///run/redis.sock", True),
        ("redis://[::1]:6379", True),
        ("redis://10.0.0.5:6379", False),
        ("rediss://cache.example.com:6380", False),
        ("redis://127.0.0.2:6379", False),
    ],
)
def test_which_redis_is_local(url: str, local: bool) -> None:
    assert is_local(url) is local


@contextlib.contextmanager
def flowhq_dev(tmp_path: Path, *options: str, host: str = "127.0.0.1") -> Iterator[tuple[str, str]]:
    """``flowhq dev`` (the signup flow) as a subprocess: the line it printed and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowhq.cli",
            "dev",
            "examples.signup:Signup",
            "--asgi",
            "examples.demo_api:app",
            "--host",
            host,
            "--port",
            str(port),
            "--no-reload",
            *options,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base = f"http://{host}:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/static/console.css")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "flowhq dev did not answer"
                time.sleep(0.1)
        yield line, base
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


def printed_token(line: str) -> str:
    assert "?token=" in line, line
    return line.split("?token=")[1].split(maxsplit=1)[0]


def test_a_non_local_redis_needs_the_printed_token(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", "--bind", "127.0.0.1 127.0.0.2").start()
    url = f"redis://127.0.0.2:{server.port}/0"
    try:
        with flowhq_dev(tmp_path, "--redis", url) as (line, base):
            token = printed_token(line)
            assert httpx.get(f"{base}/api/info").status_code == 401
            assert httpx.get(f"{base}/").status_code == 401
            bearer = {"authorization": f"Bearer {token}"}
            assert httpx.get(f"{base}/api/info", headers=bearer).status_code == 200
            listed = httpx.get(f"{base}/api/conversations", params={"token": token})
            assert listed.status_code == 200
    finally:
        server.kill()


# -- safe on a network -------------------------------------------------------------------------

ATTACKER = "http://attacker.example"
FROM_ANOTHER_SITE: Sequence[dict[str, str]] = (
    {"origin": ATTACKER, "sec-fetch-site": "cross-site"},  # any browser today
    {"origin": ATTACKER},  # a browser without fetch metadata
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site", "origin": "http://localhost:3000"},  # another local app
    {"origin": "null"},  # a sandboxed frame, a file:// page
)


def own_page(client: httpx.Client | httpx.AsyncClient) -> dict[str, str]:
    """The headers a browser sends with the console page's own fetch()."""
    return {"origin": str(client.base_url).rstrip("/"), "sec-fetch-site": "same-origin"}


def test_a_name_the_console_is_not_served_as_is_refused(console: httpx.Client) -> None:
    """DNS rebinding: attacker.example resolves to 127.0.0.1 and its page calls the console
    as same-origin; the Host header still names attacker.example."""
    port = console.base_url.port
    rebound = {"host": f"attacker.example:{port}"}
    users = console.get("/api/users").json()["users"]
    for path in ("/", "/api/info", "/api/users", "/static/console.js"):
        assert console.get(path, headers=rebound).status_code == 400, path
    added = console.post("/api/users", json={}, headers=rebound)
    assert added.status_code == 400
    assert console.get("/api/users").json()["users"] == users  # nobody was added
    for name in ("localhost", "127.0.0.1", "[::1]", "LOCALHOST."):
        assert console.get("/api/info", headers={"host": f"{name}:{port}"}).status_code == 200
    for malformed in ("", "localhost:http", "[::1", "a:b:c"):
        assert console.get("/api/info", headers={"host": malformed}).status_code == 400


def test_cross_site_posts_cannot_run_a_flow(console: httpx.Client) -> None:
    """A cross-site form or fetch (text/plain needs no preflight) must not chat for a user."""
    user = console.get("/api/info").json()["users"][0]
    for headers in FROM_ANOTHER_SITE:
        refused = console.post(
            f"/api/chat/{user}/text",
            content='{"text": "sent by another site"}',
            headers={"content-type": "text/plain", **headers},
        )
        assert refused.status_code == 403, headers
        as_json = console.post(f"/api/chat/{user}/text", json={"text": "json too"}, headers=headers)
        assert as_json.status_code == 403, headers
    # Not from a browser page (no Origin, no fetch metadata), but not JSON: still refused.
    plain = console.post(
        f"/api/chat/{user}/text",
        content='{"text": "plain"}',
        headers={"content-type": "text/plain"},
    )
    assert plain.status_code == 415
    # The page's own request goes through; the replies arrive in order, so once the menu is
    # there, any refused message that had run would be in the chat before it.
    own = console.post(f"/api/chat/{user}/text", json={"text": "hi"}, headers=own_page(console))
    assert own.status_code == 200
    chat = entries(console, user, 2)
    assert [entry["text"] for entry in chat if entry["direction"] == "in"] == ["hi"]


async def test_a_cross_site_post_cannot_reset_a_conversation(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[PizzaOrder], store=store, api=no_api())
    await hq.handle(InboundMessage("whatsapp", "+15550004242", "m1", "hi"))
    await store.close()
    inspect = RedisStore.from_url(redis_url)
    app = console_app(
        FlowSource.of([PizzaOrder]),
        [PizzaOrder],
        api=no_api(),
        inspect_store=inspect,
        allow_reset=True,
        reload_every=0,
    )
    path = "/api/conversations/whatsapp:+15550004242"
    with served(app, lifespan="on") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            for headers in FROM_ANOTHER_SITE:
                refused = await client.post(
                    path, content="x", headers={"content-type": "text/plain", **headers}
                )
                assert refused.status_code == 403, headers
            form = await client.post(path, data={"a": "b"})  # a form, even without Origin
            assert form.status_code == 415
            assert (await client.get(path)).status_code == 200  # still there
            deleted = await client.post(path, json={}, headers=own_page(client))
            assert deleted.json() == {"deleted": True}
            assert (await client.get(path)).status_code == 404


def test_cross_site_reads_of_the_api_are_refused(console: httpx.Client) -> None:
    """The same-origin policy hides the answer, but the request would still run: an <img>
    on another site could make the console draw diagrams all day."""
    diagram = "/api/diagram/pizza_order.svg"
    for headers in FROM_ANOTHER_SITE:
        assert console.get(diagram, headers=headers).status_code == 403, headers
    assert console.get(diagram, headers=own_page(console)).status_code == 200
    # Following a link to the page from elsewhere is fine: the page itself holds nothing.
    link = console.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"})
    assert link.status_code == 200


def test_the_page_cannot_be_framed_nor_leak_its_address(console: httpx.Client) -> None:
    """Framed by another site, the page's Reset button could be clicked through a decoy; and
    the page's address may hold the token, which a Referer would carry away."""
    for path in ("/", "/api/info", "/static/console.js"):
        headers = console.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    refused = console.get("/", headers={"host": "attacker.example"})
    assert refused.headers["x-frame-options"] == "DENY"


def test_beyond_loopback_the_console_needs_its_printed_token(tmp_path: Path) -> None:
    """127.0.0.2 stands for a network address (the tests stay on loopback); the console
    treats any address but localhost, 127.0.0.1 and ::1 as beyond loopback."""
    with flowhq_dev(tmp_path, host="127.0.0.2") as (line, base):
        token = printed_token(line)
        assert len(token) >= 32
        assert httpx.get(f"{base}/api/info").status_code == 401
        assert httpx.get(f"{base}/").status_code == 401
        chat = httpx.post(f"{base}/api/chat/15550001001/text", json={"text": "hi"})
        assert chat.status_code == 401
        for wrong in ("", "x" * len(token), token[:-1], "é" * 4):  # non-ASCII: a 401, not a 500
            assert httpx.get(f"{base}/api/info", params={"token": wrong}).status_code == 401
        bearer = {"authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/info", headers=bearer).status_code == 200
        assert httpx.get(f"{base}/", params={"token": token}).status_code == 200
        added = httpx.post(f"{base}/api/users", json={}, headers=bearer)
        assert added.status_code == 200
        assert httpx.post(f"{base}/api/clock", json={"advance": 60}).status_code == 401
        moved = httpx.post(f"{base}/api/clock", json={"advance": 60}, headers=bearer)
        assert moved.status_code == 200
        assert httpx.get(f"{base}/static/console.js").status_code == 200  # the page's own code
        rebound = {**bearer, "host": "attacker.example"}
        assert httpx.get(f"{base}/api/info", headers=rebound).status_code == 400


def test_a_given_token_is_required_and_never_printed(tmp_path: Path) -> None:
    token = "a-token-the-developer-chose"
    with flowhq_dev(tmp_path, "--token", token) as (line, base):
        assert token not in line
        assert "?token=" not in line
        assert httpx.get(f"{base}/api/info").status_code == 401
        assert httpx.get(f"{base}/api/info", params={"token": token}).status_code == 200


@pytest.mark.parametrize(
    ("bind", "redis_is_local", "needed"),
    [
        ("127.0.0.1", True, False),
        ("localhost", True, False),
        ("::1", True, False),
        ("0.0.0.0", True, True),
        ("::", True, True),
        ("192.168.1.5", True, True),
        ("127.0.0.2", True, True),
        ("127.0.0.1", False, True),
    ],
)
def test_which_consoles_need_a_token(bind: str, redis_is_local: bool, needed: bool) -> None:
    assert needs_token(bind, redis_is_local=redis_is_local) is needed


def test_the_hosts_a_console_answers_as() -> None:
    loopback = Access.serving("127.0.0.1")
    assert loopback.allows_host("localhost:8765")
    assert loopback.allows_host("[::1]:8765")
    assert not loopback.allows_host("192.168.1.7:8765")
    assert not loopback.allows_host("localhost.attacker.example")
    everywhere = Access.serving("0.0.0.0", allowed_hosts=["Console.Example.com"])
    assert everywhere.allows_host("192.168.1.7:8765")  # an address cannot be rebound
    assert everywhere.allows_host("[fe80::1]:8765")
    assert everywhere.allows_host(f"{socket.gethostname()}:8765")
    assert everywhere.allows_host("console.example.com.:443")
    assert not everywhere.allows_host("attacker.example:8765")
    one = Access.serving("192.168.1.5", allowed_hosts=["fe80::1"])
    assert one.allows_host("192.168.1.5:8765")
    assert one.allows_host("[fe80::1]")
    assert not one.allows_host("192.168.1.7:8765")
    with pytest.raises(ValueError, match="empty"):
        Access.serving("127.0.0.1", token="")
    with pytest.raises(ValueError, match="not a host name"):
        Access.serving("127.0.0.1", allowed_hosts=["bad:host:name:"])


def test_the_command_refuses_an_empty_token_and_a_bad_host_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["dev", "examples.signup:Signup", "--token", ""]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["dev", "examples.signup:Signup", "--allowed-host", "[::1"]) == 2
    assert "not a host name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bind", "page"),
    [
        ("127.0.0.1", "http://127.0.0.1:8765/"),
        ("localhost", "http://localhost:8765/"),
        ("::1", "http://[::1]:8765/"),
        ("0.0.0.0", "http://127.0.0.1:8765/"),
        ("::", "http://127.0.0.1:8765/"),
    ],
)
def test_the_printed_address(bind: str, page: str) -> None:
    assert address(bind, 8765) == page


HOT_V1 = """
from flowhq import Flow, Message, Prompt


class Hot(Flow):
    name = "hot"
    ask_city = Prompt("City?", initial=True)
    bye = Message("Bye from {ask_city}.", final=True)
    valid = ask_city.to(bye)
"""

HOT_V2 = """
from flowhq import Flow, Message, Prompt


class Hot(Flow):
    name = "hot"
    migrations = {"ask_city": "city"}
    city = Prompt("Which city?", initial=True)
    bye = Message("Goodbye from {city}!", final=True)
    valid = city.to(bye)
"""


def test_editing_the_flow_file_reloads_it_and_conversations_continue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "hot_flow.py"
    module.write_text(HOT_V1)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    hot = importlib.import_module("hot_flow")
    app = console_app(FlowSource.of([hot.Hot]), [hot.Hot], api=no_api(), reload_every=0.1)
    with served(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        user = client.get("/api/info").json()["users"][0]
        client.post(f"/api/chat/{user}/text", json={"text": "hi"})
        assert entries(client, user, 2)[-1]["text"] == "City?"
        module.write_text("this is not python(")  # a broken edit keeps the running flow
        time.sleep(0.5)
        assert "ask_city" in client.get("/api/info").json()["flows"][0]["states"]
        module.write_text(HOT_V2)
        deadline = time.monotonic() + 10
        while "city" not in client.get("/api/info").json()["flows"][0]["states"]:
            assert time.monotonic() < deadline, "the edit was not reloaded"
            time.sleep(0.1)
        client.post(f"/api/chat/{user}/text", json={"text": "Lisbon"})
        chat = entries(client, user, 5)
        assert [e["kind"] for e in chat].count("notice") == 1  # "The flow was reloaded; ..."
        assert chat[-1]["text"] == "Goodbye from Lisbon!"  # continued through migrations
    sys.modules.pop("hot_flow", None)


async def test_a_reload_keeps_the_consoles_store_and_api_client_open() -> None:
    """The console owns them; a reload restarts only the webhook app and its workers."""
    from flowhq.dev.events import EventBus
    from flowhq.dev.simulator import Simulator
    from flowhq.persistence.memory import MemoryStore

    api = demo_api()
    simulator = Simulator([Signup], store=MemoryStore(), api=api, bus=EventBus())
    await simulator.start()
    await simulator.reload([Signup])
    assert not api.is_closed
    user = simulator.users[0]
    for text in ("hi", "Ann", "ann@example.com", "yes"):  # "yes" runs the ApiCall
        await simulator.say(user, text)
    deadline = time.monotonic() + 10
    while "Welcome aboard, Ann!" not in [entry.text for entry in simulator.chats[user]]:
        assert time.monotonic() < deadline, [entry.text for entry in simulator.chats[user]]
        await asyncio.sleep(0.02)
    await simulator.stop()
    assert not api.is_closed
    await api.aclose()


def test_a_flow_file_is_reloaded_and_never_shadows_an_installed_module(tmp_path: Path) -> None:
    """``flowhq dev path/to/uvicorn.py:Hot``: the file must not replace uvicorn in
    ``sys.modules``, and an edit to it must reload although its folder is not on sys.path."""
    import uvicorn

    from flowhq.cli._common import load_flow

    flow_file = tmp_path / "uvicorn.py"
    flow_file.write_text(HOT_V1)
    flow = load_flow(f"{flow_file}:Hot")
    assert sys.modules["uvicorn"] is uvicorn
    source = FlowSource.of([flow])
    flow_file.write_text(HOT_V2)
    (reloaded,) = source.load()
    assert "city" in reloaded.states_map
    assert "ask_city" not in reloaded.states_map


def test_a_generated_path_that_lets_time_pass_replays_in_the_console(
    appointments: httpx.Client,
) -> None:
    user = appointments.post("/api/users", json={}).json()["user"]
    paths = appointments.get("/api/paths/appointment").json()["paths"]
    waiting = next(p for p in paths if any(m["kind"] == "wait" for m in p["moves"]))
    for move in range(len(waiting["moves"])):
        answer = appointments.post(
            f"/api/chat/{user}/replay",
            json={"flow": "appointment", "path": paths.index(waiting), "move": move},
        )
        assert answer.status_code == 200
        time.sleep(0.2)
    timeline = appointments.get(f"/api/state/{user}").json()["timeline"]
    assert any("timer:" in str(step) for step in timeline)  # time passed; no restart
    assert timeline[-1]["finished"] == waiting["finished"]

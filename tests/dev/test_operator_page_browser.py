"""The operator page in a real browser: Debian's headless chromium through Playwright.

In ``flowhq dev``: the simulated user is mid-question, the operator pauses the conversation
from the Inbox tab, the user writes, the operator answers (the answer reaches the chat),
resumes, and the bot asks its question again. Alone (``flowhq inbox`` against a real
redis-server, with a token): a Handoff waiting, the reply left to the bot's workers and sent
by its redelivery. Chromium comes from ``scripts/system-deps.sh``; nothing downloads one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Page, expect

from flowhq import Headquarters, InboundMessage, RedisStore
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.testing.whatsapp import FakeGraphApi
from tests.channels.whatsapp.fixtures import FAKE_TOKEN, PHONE_NUMBER_ID
from tests.dev.test_dev_console_browser import (
    bot_says,
    by_test_id,
    flowhq_dev,
    page,  # noqa: F401 - the fixture
    screenshot,
    send,
)
from tests.dev.test_operator_page import Clinic
from tests.support import free_port, running_flowhq

USER = "15550001001"
T = TypeVar("T")


def test_the_operator_takes_over_mid_question_in_the_console(tmp_path: Path, page: Page) -> None:  # noqa: F811
    with flowhq_dev(tmp_path / "flowhq-dev.log") as console:
        page.goto(console)
        expect(page.locator("body[data-ready=yes]")).to_be_attached()
        send(page, "hi")
        bot_says(page, "Which pizza would you like?").get_by_test_id("list-button").click()
        by_test_id(page, "list-row").filter(has_text="Margherita").click()
        bot_says(page, "Which size?")
        by_test_id(page, "reply-button").filter(has_text="Medium").click()
        bot_says(page, "How many Medium Margherita?")

        # The operator pauses the conversation mid-question from the Inbox tab.
        by_test_id(page, "inbox-tab").click()
        expect(by_test_id(page, "inbox-empty")).to_be_visible()
        by_test_id(page, "inbox-pause-identifier").fill(USER)
        by_test_id(page, "inbox-pause").click()
        item = by_test_id(page, "inbox-item").filter(has_text=USER)
        expect(item).to_contain_text("0 unanswered")
        expect(by_test_id(page, "inbox-selected")).to_have_text(f"whatsapp:{USER}")

        # The user writes (one message tries to inject markup): the bot answers nothing.
        by_test_id(page, "simulator-tab").click()
        send(page, "Can a person help? I want 12.")
        send(page, "<img src=x onerror=alert(1)>")
        by_test_id(page, "inbox-tab").click()
        expect(item).to_contain_text("2 unanswered")
        transcript = by_test_id(page, "inbox-transcript")
        expect(transcript).to_contain_text("Can a person help? I want 12.")
        expect(transcript).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text
        expect(transcript.locator("img")).to_have_count(0)

        # The operator answers as Eva; the answer reaches the user's chat.
        by_test_id(page, "inbox-agent").fill("Eva")
        by_test_id(page, "inbox-reply-text").fill("Hi, Eva here: we can make 12, say 10 here.")
        by_test_id(page, "inbox-send").click()
        mine = by_test_id(page, "inbox-entry").filter(has_text="Eva here")
        expect(mine).to_contain_text("Eva")
        expect(mine).to_have_attribute("data-direction", "out")
        expect(item).to_contain_text("0 unanswered")
        screenshot(page, "operator-page-console")

        # Resume: the bot asks its question again, the saved answers intact.
        expect(by_test_id(page, "inbox-result")).to_have_value("resumed")
        by_test_id(page, "inbox-resume").click()
        expect(by_test_id(page, "inbox-empty")).to_be_visible()
        expect(by_test_id(page, "inbox-selected-state")).to_contain_text("the bot answers it")
        expect(by_test_id(page, "inbox-resume")).to_be_hidden()
        expect(by_test_id(page, "inbox-pause-this")).to_be_visible()
        by_test_id(page, "simulator-tab").click()
        bot_says(page, "Hi, Eva here: we can make 12, say 10 here.")
        asked = page.locator("[data-testid=bubble][data-direction=out]")
        expect(asked.last).to_contain_text("How many Medium Margherita?")
        expect(asked.filter(has_text="How many Medium Margherita?")).to_have_count(2)
        send(page, "10")
        bot_says(page, "Where should we deliver?")

        # The agent's name is remembered by the page.
        page.reload()
        expect(page.locator("body[data-ready=yes]")).to_be_attached()
        by_test_id(page, "inbox-tab").click()
        expect(by_test_id(page, "inbox-agent")).to_have_value("Eva")


@contextlib.contextmanager
def flowhq_inbox(log: Path, redis_url: str, token: str) -> Iterator[str]:
    """``flowhq inbox`` for the test's Clinic on a free port, without WhatsApp credentials."""
    port = free_port()
    env = {**os.environ, "FLOWHQ_INBOX_TOKEN": token}
    for variable in ("WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"):
        env.pop(variable, None)
    command = ["inbox", "tests.dev.test_operator_page:Clinic"]
    command += ["--redis", redis_url, "--port", str(port)]
    probe = {"authorization": f"Bearer {token}"}
    with running_flowhq(
        command, log=log, port=port, ready="/api/inbox/info", headers=probe, env=env
    ) as base:
        yield base


def in_a_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on an event loop of its own (Playwright's sync API holds this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def bot(redis_url: str, graph_url: str) -> Headquarters:
    messenger = WhatsAppMessenger(
        phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph_url
    )
    return Headquarters(flows=[Clinic], store=RedisStore.from_url(redis_url), messenger=messenger)


async def reach_the_handoff(redis_url: str, graph_url: str) -> None:
    hq = bot(redis_url, graph_url)
    await hq.handle(InboundMessage("whatsapp", USER, "m1", "hi"))
    await hq.handle(InboundMessage("whatsapp", USER, "m2", "Talk to us", payload="talk"))
    await hq.handle(InboundMessage("whatsapp", USER, "m3", "I need to move my visit"))
    await hq.aclose()


async def redeliver(redis_url: str, graph_url: str) -> int:
    hq = bot(redis_url, graph_url)
    try:
        return await hq.redeliver()
    finally:
        await hq.aclose()


def test_flowhq_inbox_alone_leaves_replies_to_the_bots_workers(
    tmp_path: Path,
    page: Page,  # noqa: F811
    redis_url: str,
    fake_graph: tuple[FakeGraphApi, str],
) -> None:
    fake, graph_url = fake_graph
    in_a_thread(reach_the_handoff(redis_url, graph_url))
    fake.reset()
    token = "inbox-browser-token"
    with flowhq_inbox(tmp_path / "flowhq-inbox.log", redis_url, token) as base:
        assert httpx.get(f"{base}/api/inbox/paused").status_code == 401
        page.goto(f"{base}/?token={token}")
        expect(page.locator("[data-inbox-standalone][data-ready=yes]")).to_be_attached()
        notice = by_test_id(page, "inbox-notice")
        expect(notice).to_contain_text("committed to the outbox and sent by the bot's own workers")
        item = by_test_id(page, "inbox-item").filter(has_text=USER)
        expect(item).to_contain_text("1 unanswered")
        expect(item).to_contain_text("in human")
        item.click()
        expect(by_test_id(page, "inbox-transcript")).to_contain_text("I need to move my visit")
        options = by_test_id(page, "inbox-result").locator("option")
        expect(options).to_have_text(["resumed", "booked"])  # the Handoff's results
        by_test_id(page, "inbox-agent").fill("Ana")
        by_test_id(page, "inbox-reply-text").fill("Moved to Friday at 10.")
        by_test_id(page, "inbox-send").click()
        expect(by_test_id(page, "inbox-status")).to_contain_text("left to the bot's workers")
        by_test_id(page, "inbox-result").select_option("booked")
        expect(item).to_contain_text("0 unanswered")
        screenshot(page, "operator-page")
        by_test_id(page, "inbox-resume").click()
        expect(by_test_id(page, "inbox-empty")).to_be_visible()
        log = (tmp_path / "flowhq-inbox.log").read_text()
        assert token not in log
        assert USER not in log
    assert fake.texts(USER) == []  # the page sent nothing itself
    assert in_a_thread(redeliver(redis_url, graph_url)) == 2
    assert fake.texts(USER) == ["Moved to Friday at 10.", "Your visit is booked."]

"""Templates and the 24-hour window under uvicorn, against the fake Graph API.

The clock is the Headquarters' own (a ``ManualClock`` started now): the test moves it past
the window, and the app's timer loop fires what falls due.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowhq import ConversationKey, Flow, Message, OutboundMessage, Prompt, Template, Wait
from flowhq.runtime.delivery import WINDOW_CLOSED
from flowhq.testing import ManualClock
from flowhq.testing.whatsapp import FakeGraphApi, text
from tests.channels.whatsapp.bot import load, say, serve_bot
from tests.support import wait_for

READY = Template("table_ready", "en_US", params=("{name}",), buttons=("on_my_way",))


class Table(Flow):
    name = "table"
    ask = Prompt("Your name?", initial=True, save_as="name")
    hold = Wait(timedelta(hours=25), text="We'll write when your table is ready.")
    ready = Message("Your table is ready, {name}.", template=READY)
    bye = Message("See you soon.", final=True)
    valid = ask.to(hold)
    done = hold.to(ready) | ready.to(bye)


Undeliverable = list[tuple[ConversationKey, list[OutboundMessage], str]]


def recorder(into: Undeliverable) -> Any:
    def record(key: ConversationKey, messages: list[OutboundMessage], reason: str) -> None:
        into.append((key, messages, reason))

    return record


async def test_outside_the_window_the_template_goes_and_a_plain_text_is_refused(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    user = "15551238001"
    clock = ManualClock(datetime.now(UTC))
    refused: Undeliverable = []
    options = {"clock": clock, "on_undeliverable": recorder(refused)}
    with serve_bot([Table], redis_url, graph, hq=options) as (url, _):
        await say(url, text(user, "hi"))
        await wait_for(lambda: fake.texts(user) == ["Your name?"])
        await say(url, text(user, "Ann"))
        await wait_for(lambda: len(fake.texts(user)) == 2)
        caplog.set_level(logging.WARNING, logger="flowhq")
        clock.advance(timedelta(hours=25, seconds=1))  # the window closed an hour ago
        await wait_for(lambda: len(fake.texts(user)) == 3)
        await wait_for(lambda: len(refused) == 1)
    sent = fake.messages(user)[2]
    assert sent.payload["type"] == "template"
    assert sent.payload["template"] == {
        "name": "table_ready",
        "language": {"code": "en_US"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ann"}]},
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "on_my_way"}],
            },
        ],
    }
    # "See you soon." has no template: never sent, reported with the reason.
    ((key, messages, reason),) = refused
    assert (key.identifier, [m.text for m in messages], reason) == (
        user,
        ["See you soon."],
        WINDOW_CLOSED,
    )
    assert "not sent" in caplog.text
    assert fake.texts(user)[-1] == "template:table_ready"


class Notice(Flow):
    name = "notice"
    ask = Prompt("Ready?", initial=True)
    end = Message("Done.", final=True)
    valid = ask.to(end)


async def test_a_131047_that_still_comes_back_is_recorded_like_the_window_closing(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551238002"
    refused: Undeliverable = []
    with serve_bot([Notice], redis_url, graph, hq={"on_undeliverable": recorder(refused)}) as (
        url,
        _,
    ):
        await say(url, text(user, "hi"))
        await wait_for(lambda: fake.texts(user) == ["Ready?"])
        fake.fail_for(user, code=131047)  # Meta's clock says the window closed
        await say(url, text(user, "yes"))
        await wait_for(lambda: len(refused) == 1)
    assert [m.text for m in refused[0][1]] == ["Done."]
    assert refused[0][2] == WINDOW_CLOSED
    loaded = await load(redis_url, user)
    assert any("131047" in reason for reason in loaded.failures.values())


async def test_the_webhook_app_takes_the_undeliverable_hook_too(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551238003"
    refused: Undeliverable = []
    hook = recorder(refused)
    with serve_bot([Notice], redis_url, graph, on_undeliverable=hook) as (url, hq):
        assert hq.on_undeliverable is hook
        await say(url, text(user, "hi"))
        await wait_for(lambda: fake.texts(user) == ["Ready?"])
        fake.fail_for(user, code=131047)
        await say(url, text(user, "yes"))
        await wait_for(lambda: len(refused) == 1)
    assert [m.text for m in refused[0][1]] == ["Done."]

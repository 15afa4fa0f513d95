"""Timers fire in the webhook app's own process: under uvicorn, with nothing else calling."""

from __future__ import annotations

import asyncio

from flowhq import Flow, Message, Prompt, Wait
from flowhq.testing.whatsapp import FakeGraphApi, text
from tests.channels.whatsapp.bot import say, serve_bot
from tests.support import wait_for

USER = "15551239001"


class Pause(Flow):
    name = "pause"
    ask = Prompt("Ready?", initial=True)
    hold = Wait(0.3, text="Hold on…")
    end = Message("Done waiting.", final=True)
    valid = ask.to(hold)
    done = hold.to(end)


async def test_a_timer_fires_with_no_other_call(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with serve_bot([Pause], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: fake.texts(USER) == ["Ready?"])
        await say(url, text(USER, "yes"))
        # Nothing but the app's own lifespan fires the wait's timer.
        await wait_for(lambda: fake.texts(USER) == ["Ready?", "Hold on…", "Done waiting."])


async def test_timers_can_be_left_to_another_process(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with serve_bot([Pause], redis_url, graph, timers=False) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: fake.texts(USER) == ["Ready?"])
        await say(url, text(USER, "yes"))
        await wait_for(lambda: fake.texts(USER) == ["Ready?", "Hold on…"])
        await asyncio.sleep(1.0)  # well past the wait: no loop of this app fires it
        assert fake.texts(USER) == ["Ready?", "Hold on…"]

"""A location request under uvicorn against the fake Graph API."""

from __future__ import annotations

from flowhq import Flow, Message, Prompt
from flowhq.testing.whatsapp import FakeGraphApi, location, text
from tests.channels.whatsapp.bot import say, serve_bot
from tests.support import wait_for


class Delivery(Flow):
    name = "delivery"
    where = Prompt(
        "Where should we deliver?", accept=("location",), request_location=True, initial=True
    )
    done = Message("On our way to {where}.", final=True)
    valid = where.to(done)


async def test_a_prompt_asks_for_the_location_with_the_send_location_button(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551245001"
    with serve_bot([Delivery], redis_url, graph) as (url, _):
        await say(url, text(user, "hi"))
        await wait_for(lambda: len(fake.messages(user)) == 1)
        asking = fake.messages(user)[0].payload["interactive"]
        assert asking == {
            "type": "location_request_message",
            "body": {"text": "Where should we deliver?"},
            "action": {"name": "send_location"},
        }
        await say(url, text(user, "the station"))  # not a location: asked again, same way
        await wait_for(lambda: len(fake.messages(user)) == 2)
        again = fake.messages(user)[1].payload["interactive"]
        assert again["type"] == "location_request_message"
        assert again["body"]["text"].startswith("Please answer with a location")
        await say(url, location(user, 51.5007, -0.1246, name="Big Ben"))
        await wait_for(lambda: len(fake.messages(user)) == 3)
    assert "Big Ben" in fake.texts(user)[2]

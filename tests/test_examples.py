"""The example flows, end to end through Headquarters on the in-memory store."""

from __future__ import annotations

import httpx

from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import Headquarters, InboundMessage, MemoryStore, RecordingMessenger


class Chat:
    def __init__(self, hq: Headquarters, identifier: str = "+15550001") -> None:
        self.hq = hq
        self.identifier = identifier
        self.count = 0

    async def say(self, text: str) -> list[str]:
        self.count += 1
        outcome = await self.hq.handle(
            InboundMessage("whatsapp", self.identifier, f"wamid.{self.count}", text)
        )
        self.last = outcome
        return [reply.text for reply in outcome.replies]


async def test_signup_happy_path(
    api_client: httpx.AsyncClient, demo_api: tuple[DemoApi, str]
) -> None:
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Signup], store=MemoryStore(), messenger=messenger, api=api_client)
    chat = Chat(hq, "+15550100")
    assert await chat.say("hi") == ["What's your name?"]
    assert await chat.say("Ann") == ["Thanks Ann! Your email?"]
    assert await chat.say("nope") == [
        "That doesn't look like an email address.\nThanks Ann! Your email?"
    ]
    assert await chat.say("ann@Example.COM") == ["Create an account for Ann <ann@example.com>?"]
    assert chat.last.replies[0].buttons == (("yes", "yes"), ("no", "no"))
    assert await chat.say("yes") == ["Welcome aboard, Ann!"]
    assert chat.last.finished
    assert {"name": "Ann", "email": "ann@example.com"}.items() <= demo_api[0].users[-1].items()
    assert messenger.texts()[-1] == "Welcome aboard, Ann!"


async def test_support_menu_help_returns_where_you_were() -> None:
    hq = Headquarters(flows=[SupportMenu], store=MemoryStore())
    chat = Chat(hq)
    await chat.say("hello")
    assert await chat.say("2") == ["Which device?"]
    replies = await chat.say("help")
    assert replies[0].startswith("Answer the question")
    assert replies[1] == "Which device?"
    assert chat.last.configuration == ["support", "device"]
    assert await chat.say("Laptop") == ["What happens on your Laptop?"]
    assert await chat.say("help") == [
        "Answer the question, or type 'cancel' to stop. Back to it:",
        "What happens on your Laptop?",  # deep history: the exact question, not the menu
    ]
    assert await chat.say("it is slow") == ["Thanks! A technician will look at your Laptop."]
    assert chat.last.finished


async def test_support_menu_cancel_from_inside() -> None:
    hq = Headquarters(flows=[SupportMenu], store=MemoryStore())
    chat = Chat(hq)
    await chat.say("hello")
    await chat.say("billing")
    assert await chat.say("cancel") == ["Cancelled. Type anything to start again."]
    assert chat.last.finished


async def test_order_status_against_real_server(api_client: httpx.AsyncClient) -> None:
    hq = Headquarters(flows=[OrderStatus], store=MemoryStore(), api=api_client)
    chat = Chat(hq)
    await chat.say("hi")
    assert await chat.say("A100") == [
        "Order A100 is shipped; it arrives tomorrow.",
        "Anything else?",
    ]
    assert await chat.say("yes") == ["What's your order number?"]
    assert await chat.say("Z999") == ["I couldn't find order Z999.", "Anything else?"]
    assert await chat.say("no") == ["Bye!"]

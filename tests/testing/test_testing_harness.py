"""The example flows tested with flowhq.testing, the way a user would write them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import Headquarters, MemoryStore, RedisStore, StateAccessError
from flowhq.testing import Conversation, no_api


async def test_signup_with_the_real_demo_api(
    api_client: httpx.AsyncClient, demo_api: tuple[DemoApi, str]
) -> None:
    async with Conversation(Signup, api=api_client) as c:
        assert await c.say("hi") == ["What's your name?"]
        assert await c.say("Ann") == ["Thanks Ann! Your email?"]
        await c.say("ann@example")
        assert c.state.get_validation_status("email")["attempts"] == 1
        await c.say("ann@example.com")
        assert c.last_reply is not None
        assert c.last_reply.buttons == (("yes", "yes"), ("no", "no"))
        assert await c.press("yes") == ["Welcome aboard, Ann!"]
        assert c.finished
        assert demo_api[0].users[-1]["email"] == "ann@example.com"


async def test_state_view_is_read_only() -> None:
    async with Conversation(Signup) as c:
        with pytest.raises(LookupError):
            _ = c.state
        await c.say("hi")
        await c.say("Ann")
        assert c.state.get_component() == "email"
        assert c.state.get_value("first_name") == "Ann"
        assert c.state.get_channel_type() == "test"
        assert c.state.get_path() == "signup"
        with pytest.raises(StateAccessError):
            c.state.save_value("first_name", "Mallory")


async def test_support_menu_help_and_cancel(conversation: Callable[..., Conversation]) -> None:
    c = conversation(SupportMenu)
    await c.say("hi")
    await c.press("tech")
    assert c.configuration == ["support", "device"]
    replies = await c.say("help")
    assert replies[-1] == "Which device?"
    assert c.configuration == ["support", "device"]  # back where we were
    assert await c.say("cancel") == ["Cancelled. Type anything to start again."]
    assert c.finished


async def test_order_status_when_the_api_fails(api_client: httpx.AsyncClient) -> None:
    async with Conversation(OrderStatus, api=api_client) as c:
        await c.start()
        c.force_result("lookup", "error")
        assert await c.say("A100") == ["Our order system is not answering. Please try later."]
        assert c.finished


async def test_force_applies_once_then_the_real_api_answers(api_client: httpx.AsyncClient) -> None:
    async with Conversation(OrderStatus, api=api_client) as c:
        await c.start()
        c.force_result("lookup", "not_found")
        assert await c.say("A100") == ["I couldn't find order A100.", "Anything else?"]
        await c.say("yes")
        assert await c.say("A100") == [
            "Order A100 is shipped; it arrives tomorrow.",
            "Anything else?",
        ]


async def test_records_show_what_each_step_fired() -> None:
    async with Conversation(Signup) as c:
        await c.say("hi")
        await c.say("Ann")
        assert c.records[-1].fired == (("first_name", "valid"),)
        assert c.records[-1].transitions == (("first_name", "email", "valid"),)


async def test_over_a_headquarters_on_redis(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Signup], store=store, api=no_api())
    async with Conversation(hq, identifier="+15559990000") as c:
        await c.say("hi")
        assert await c.say("Bo") == ["Thanks Bo! Your email?"]
        assert c.state.get_channel_id() == "+15559990000"
    assert hq.observer is None
    await store.close()


async def test_forcing_an_undeclared_result_is_refused() -> None:
    hq = Headquarters(flows=[OrderStatus], store=MemoryStore(), api=no_api())
    async with Conversation(hq) as c:
        await c.start()
        c.force_result("lookup", "teleported")
        replies = await c.say("A100")
        assert replies == [c.hq.error_handler.apology]
        assert c.configuration == ["order_id"]

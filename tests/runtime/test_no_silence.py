"""Invariant (issue 9): every accepted message that is not a duplicate gets at least one
reply, or a WARNING/ERROR is logged. Fuzzed over the example flows, and checked on a real
redis-server for a flow deployed over conversations it cannot continue as they were."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from examples.pizza import PizzaOrder
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    Flow,
    Headquarters,
    InboundMessage,
    Location,
    MemoryStore,
    Message,
    Prompt,
    RedisStore,
)
from flowhq.messaging.types import Media
from tests.flows import Age, Fragile, Nested

FLOWS: list[type[Flow]] = [Signup, SupportMenu, OrderStatus, PizzaOrder, Age, Fragile, Nested]

WORDS = [
    "hi", "yes", "no", "1", "2", "3", "5", "2.", "help", "cancel", "menu", "Ann",
    "ann@example.com", "A100", "Z999", "INV-1234", "laptop", "four cheese", "Large", "7",
    "200", "👍", "nope", "", "²", "٣", "12345678901234567890", "\u00e9t\u00e9", "go",
]  # fmt: skip


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


messages = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.sampled_from(WORDS) | st.text(max_size=30)),
        st.tuples(
            st.just("tap"),
            st.sampled_from(["yes", "no", "billing", "tech", "s", "four-cheese", "x"])
            | st.text(min_size=1, max_size=20),
        ),
        st.tuples(st.just("tagged"), st.sampled_from(["yes", "billing", "phone", "m~zz"])),
        st.tuples(st.sampled_from(["image", "location", "sticker", "unsupported"]), st.none()),
        st.tuples(st.just("repeat"), st.none()),
    ),
    min_size=1,
    max_size=12,
)


def inbound(kind: str, value: str | None, n: int, last: str) -> InboundMessage:
    base = ("whatsapp", "+15550001")
    if kind == "text":
        return InboundMessage(*base, f"m{n}", value)
    if kind == "tap":
        return InboundMessage(*base, f"m{n}", payload=value, kind="interactive")
    if kind == "tagged":
        return InboundMessage(*base, f"m{n}", payload=value, tag="old1", kind="interactive")
    if kind == "repeat":
        return InboundMessage(*base, last, "hi")
    if kind == "location":
        return InboundMessage(*base, f"m{n}", kind="location", location=Location(1.0, 2.0))
    return InboundMessage(*base, f"m{n}", kind=kind, media=Media("media-1"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=st.sampled_from(FLOWS), sequence=messages)
def test_no_accepted_message_is_swallowed(flow: type[Flow], sequence: list) -> None:  # type: ignore[type-arg]
    asyncio.run(_check(flow, sequence))


async def _check(flow: type[Flow], sequence: list[tuple[str, str | None]]) -> None:
    collect = Collect()
    logger = logging.getLogger("flowhq")
    logger.addHandler(collect)
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=DemoApi()), base_url="http://api")
    try:
        hq = Headquarters(flows=[flow], store=MemoryStore(), api=api)
        last = "m0"
        for n, (kind, value) in enumerate(sequence, start=1):
            message = inbound(kind, value, n, last)
            before = len(collect.records)
            outcome = await hq.handle(message)
            last = message.message_id
            if outcome.duplicate:
                continue
            warned = len(collect.records) > before
            assert outcome.replies or warned, (flow.name, message, outcome)
    finally:
        logger.removeHandler(collect)
        await api.aclose()


# -- a flow deployed over conversations it cannot continue as they were -------------------

REDIS_KEY = "flowhq:{whatsapp:+15550001}"


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def texts(outcome: object) -> list[str]:
    return [reply.text for reply in outcome.replies]  # type: ignore[attr-defined]


class PromptThen(Flow):
    """Version 1: asks for a name at `greet`."""

    name = "greeter"
    greet = Prompt("Your name?", initial=True)
    bye = Message("Bye {greet}.", final=True)
    valid = greet.to(bye)


class MessageNow(Flow):
    """Version 2, deployed later: `greet` became a Message under the same id."""

    name = "greeter"
    greet = Message("Hello there!", initial=True)
    ask = Prompt("What brings you here?")
    bye = Message("Bye.", final=True)
    done = greet.to(ask)
    valid = ask.to(bye)


async def test_a_prompt_turned_message_runs_instead_of_swallowing(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore.from_url(redis_url)
    await Headquarters(flows=[PromptThen], store=store).handle(msg("m1"))
    caplog.set_level(logging.WARNING, logger="flowhq")
    hq = Headquarters(flows=[MessageNow], store=store)
    outcome = await hq.handle(msg("m2", "Ann"))
    assert texts(outcome) == ["Hello there!", "What brings you here?"]
    assert caplog.text.count("waits for no input") == 1
    caplog.clear()
    outcome = await hq.handle(msg("m3", "curiosity"))
    assert texts(outcome) == ["Bye."]
    assert "WARNING" not in caplog.text  # once per conversation
    await store.close()


@pytest.mark.parametrize("configuration", [[], ["nowhere"], ["greet", "bye"]])
async def test_an_empty_or_impossible_position_restarts_with_a_message(
    redis_url: str, configuration: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore.from_url(redis_url)
    await Headquarters(flows=[PromptThen], store=store).handle(msg("m1"))
    with redis.Redis.from_url(redis_url) as admin:
        data = json.loads(admin.hget(REDIS_KEY, "doc"))  # type: ignore[arg-type]
        data["chart"]["configuration"] = configuration
        admin.hset(REDIS_KEY, "doc", json.dumps(data))
    caplog.set_level(logging.WARNING, logger="flowhq")
    hq = Headquarters(flows=[PromptThen], store=store)
    outcome = await hq.handle(msg("m2", "Ann"))
    assert texts(outcome) == [PromptThen.restart_text, "Your name?"]
    assert "restarting flow greeter" in caplog.text
    await store.close()

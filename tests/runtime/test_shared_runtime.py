"""What is shared between conversations is never shared by two at once.

A flow is compiled once per class and its guards run on one python-statemachine instance per
class; every conversation's step has its own chart. Guards are synchronous (the checks refuse
async ones), so no other conversation can run between a guard's setup and its answer, even
while an ApiCall awaits. Here 50 conversations run at once against an API that answers out of
order, and each must get its own answer and its own guard's verdict.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx

from flowhq import (
    ApiCall,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    StateManager,
)
from flowhq.statecharts.chart import Chart
from flowhq.statecharts.compiled import compiled
from flowhq.validators import integer


class Echo:
    """An API answering /echo/<n> with n * 10, after a random delay (out of order)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.order: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        n = int(scope["path"].rsplit("/", 1)[1])
        await asyncio.sleep(self.random.uniform(0, 0.05))
        self.order.append(n)
        body = json.dumps({"value": n * 10}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def keep(response: httpx.Response, state_manager: StateManager) -> None:
    state_manager.save_value("echo", response.json()["value"])


class Echoed(Flow):
    name = "echoed"
    n = Prompt("A number?", validator=integer(min=0), initial=True)
    call = ApiCall("GET", "/echo/{n}", handler=keep, saves=("echo",))
    even = Message("{n} is even, echo {echo}.", final=True)
    odd = Message("{n} is odd, echo {echo}.", final=True)
    failed = Message("failed", final=True)
    valid = n.to(call)
    success = call.to(even, cond="is_even") | call.to(odd)
    error = call.to(failed)

    def is_even(self, data: Any) -> bool:
        return data["echo"] % 20 == 0


async def test_fifty_conversations_at_once_with_answers_out_of_order() -> None:
    echo = Echo(seed=7)
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=echo), base_url="http://api")
    hq = Headquarters(flows=[Echoed], store=MemoryStore(), api=api)

    async def conversation(n: int) -> list[str]:
        user = f"+1555{n:04d}"
        await hq.handle(InboundMessage("whatsapp", user, "m1", "hi"))
        outcome = await hq.handle(InboundMessage("whatsapp", user, "m2", str(n)))
        return [reply.text for reply in outcome.replies]

    numbers = list(range(50))
    results = await asyncio.gather(*(conversation(n) for n in numbers))
    assert echo.order != sorted(echo.order)  # the API really answered out of order
    for n, replies in zip(numbers, results, strict=True):
        kind = "even" if n % 2 == 0 else "odd"
        assert replies == [f"{n} is {kind}, echo {n * 10}."]
    await api.aclose()


def test_a_guard_that_stores_on_self_does_not_leak() -> None:
    """Flows keep no data of their own: an attribute a guard sets on the shared instance is
    wiped before the next guard runs."""

    class Leaky(Flow):
        name = "leaky"
        ask = Prompt("?", initial=True)
        first = Message("first", final=True)
        again = Message("again", final=True)
        valid = ask.to(first, cond="fresh") | ask.to(again)

        def fresh(self) -> bool:
            seen = getattr(self, "seen", False)
            self.seen = True
            return not seen

    flow = compiled(Leaky)
    for _ in range(3):
        chart = Chart(flow, ["ask"])
        chart.send("valid", {})
        assert chart.configuration_ids() == ["first"]

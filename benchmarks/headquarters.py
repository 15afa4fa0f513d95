"""Per-message cost of Headquarters on the in-memory store, and what a step is made of.

Run with ``make bench``. Numbers are ratios measured in one run on this machine; they are
printed, never asserted (machines are shared and noisy).
"""

from __future__ import annotations

import asyncio
import time

from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import Headquarters, InboundMessage, MemoryStore
from flowhq.statecharts.snapshot import restore

ROUNDS = 2000


async def conversation_cost(flow: type, answers: list[str]) -> float:
    """Average seconds per handled message over ROUNDS conversations."""
    hq = Headquarters(flows=[flow], store=MemoryStore())
    count = 0
    started = time.perf_counter()
    for user in range(ROUNDS // len(answers)):
        for n, text in enumerate(answers):
            await hq.handle(InboundMessage("whatsapp", f"+1{user}", f"m{n}", text))
            count += 1
    return (time.perf_counter() - started) / count


def restore_cost() -> float:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        restore(SupportMenu, ["support", "ask_device"], {})
    return (time.perf_counter() - started) / ROUNDS


def main() -> None:
    signup = asyncio.run(conversation_cost(Signup, ["hi", "Ann", "ann@example.com", "no"]))
    menu = asyncio.run(conversation_cost(SupportMenu, ["hi", "2", "help", "laptop", "slow"]))
    chart = restore_cost()
    print(f"signup, MemoryStore:       {signup * 1e6:8.1f} µs/message")
    print(f"support menu, MemoryStore: {menu * 1e6:8.1f} µs/message")
    print(f"restore a chart:           {chart * 1e6:8.1f} µs ({chart / menu:.0%} of a message)")


if __name__ == "__main__":
    main()

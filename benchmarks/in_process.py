"""Scenarios without Redis: MemoryStore per message, chart size, history size, the two
engines, and ``flowhq check --paths``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.flows import Menu12, chain, signup_text
from benchmarks.harness import Problems
from examples.pizza import PizzaOrder
from examples.signup import Signup
from flowhq import ConversationKey, Flow, Headquarters, InboundMessage, MemoryStore
from flowhq.statecharts.chart import Chart
from flowhq.statecharts.compiled import compiled
from flowhq.testing import no_api, plan
from tests.statecharts.oracle import restore

ROOT = Path(__file__).resolve().parent.parent


def _message(conversation: int, step: int, text: str) -> InboundMessage:
    return InboundMessage("whatsapp", f"+{conversation}", f"m{step}", text)


async def _revisions(hq: Headquarters, conversations: int) -> list[int]:
    return [
        (await hq.store.load(ConversationKey("whatsapp", f"+{c}"))).revision
        for c in range(conversations)
    ]


async def memory_signup(*, conversations: int, messages: int, problems: Problems) -> float:
    """µs per signup message on MemoryStore, one message at a time (warm: the default)."""
    api = no_api()
    hq = Headquarters(flows=[Signup], store=MemoryStore(), api=api)
    started = time.perf_counter()
    for conversation in range(conversations):
        for step in range(messages):
            await hq.handle(_message(conversation, step, signup_text(step)))
    elapsed = time.perf_counter() - started
    revisions = await _revisions(hq, conversations)
    problems.expect("MemoryStore signup: applied messages", set(revisions), {messages})
    await api.aclose()
    return elapsed / (conversations * messages) * 1e6


async def memory_chain(
    size: int, *, conversations: int, messages: int, problems: Problems
) -> float:
    """µs per message on MemoryStore for a generated ring of ``size`` prompts."""
    flow: type[Flow] = chain(size)
    hq = Headquarters(flows=[flow], store=MemoryStore())
    started = time.perf_counter()
    for conversation in range(conversations):
        for step in range(messages):
            await hq.handle(_message(conversation, step, f"answer {step}"))
    elapsed = time.perf_counter() - started
    revisions = await _revisions(hq, conversations)
    problems.expect(f"MemoryStore chain{size}: applied messages", set(revisions), {messages})
    return elapsed / (conversations * messages) * 1e6


async def memory_history(
    answers: int, *, conversations: int, problems: Problems, cache: bool
) -> float:
    """µs per signup message in conversations that have already answered ``answers`` times.

    The validation history is bounded (flowhq keeps the newest 50 entries), so past 50 it is
    the attempt counters that keep growing, not the list.
    """
    api = no_api()
    hq = Headquarters(flows=[Signup], store=MemoryStore(), api=api, cache=cache)
    for conversation in range(conversations):
        for step in range(answers + 1):
            await hq.handle(_message(conversation, step, signup_text(step)))
    timed = range(answers + 1, answers + 1 + 3)  # one round of the loop: name, email, no
    started = time.perf_counter()
    for conversation in range(conversations):
        for step in timed:
            await hq.handle(_message(conversation, step, signup_text(step)))
    elapsed = time.perf_counter() - started
    revisions = await _revisions(hq, conversations)
    problems.expect(f"history {answers}: applied messages", set(revisions), {answers + 4})
    await api.aclose()
    return elapsed / (conversations * len(timed)) * 1e6


def statemachine_step(flow: type[Flow], configuration: list[str], event: str, rounds: int) -> float:
    """µs to restore a python-statemachine chart at ``configuration`` and send one event."""
    started = time.perf_counter()
    for _ in range(rounds):
        restore(flow, configuration, {}).send(event)
    return (time.perf_counter() - started) / rounds * 1e6


def compiled_step(flow: type[Flow], configuration: list[str], event: str, rounds: int) -> float:
    """µs for the same with flowhq's compiled engine."""
    engine = compiled(flow)
    started = time.perf_counter()
    for _ in range(rounds):
        Chart(engine, configuration, {}).send(event, {})
    return (time.perf_counter() - started) / rounds * 1e6


def plan_seconds(flow: type[Flow]) -> float:
    """Seconds for ``flowhq.testing.plan`` (what ``check --paths`` spends past start-up)."""
    started = time.perf_counter()
    plan(flow)
    return time.perf_counter() - started


def check_paths_command(target: str, problems: Problems) -> float:
    """Seconds for the whole ``flowhq check --paths`` command, interpreter start included."""
    command = [sys.executable, "-m", "flowhq.cli", "check", "--paths", target]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        problems.found.append(f"flowhq check --paths {target} failed: {done.stdout}{done.stderr}")
    return elapsed


FLOWS_FOR_PATHS = {"menu12 (benchmarks/flows.py)": Menu12, "pizza (examples/pizza.py)": PizzaOrder}

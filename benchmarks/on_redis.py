"""Scenarios in one process against the benchmark's redis-server: throughput, burst, commands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import CountingConnection, Problems, RedisServer
from benchmarks.subjects import Subject

SubjectFactory = Callable[..., Any]


async def _checked(subject: Subject, conversations: int, expected: int, problems: Problems) -> None:
    counts = await asyncio.gather(*(subject.applied(c) for c in range(conversations)))
    wrong = [(c, n) for c, n in enumerate(counts) if n != expected]
    if wrong:
        problems.found.append(
            f"{subject.name}: {len(wrong)} of {conversations} conversations applied a wrong "
            f"number of messages (expected {expected}; first: {wrong[:3]})"
        )


async def throughput(
    server: RedisServer,
    make: SubjectFactory,
    *,
    conversations: int,
    messages: int,
    in_flight: int,
    problems: Problems,
) -> float:
    """Messages/s: ``in_flight`` tasks take conversations one by one and send each of them
    ``messages`` messages in order. The database starts empty."""
    server.flush()
    subject = make(server.url)
    await subject.setup()
    pending = iter(range(conversations))

    async def worker() -> None:
        for conversation in pending:
            for step in range(messages):
                await subject.handle(conversation, step)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        await _checked(subject, conversations, messages, problems)
    finally:
        await subject.close()
    return conversations * messages / elapsed


async def burst(
    server: RedisServer, make: SubjectFactory, *, bursts: int, size: int, problems: Problems
) -> float:
    """Messages/s when ``size`` messages reach one conversation at once (bursts one by one)."""
    server.flush()
    subject = make(server.url)
    await subject.setup()
    elapsed = 0.0
    try:
        for conversation in range(bursts):
            started = time.perf_counter()
            await asyncio.gather(*(subject.handle(conversation, step) for step in range(size)))
            elapsed += time.perf_counter() - started
        await _checked(subject, bursts, size, problems)
    finally:
        await subject.close()
    return bursts * size / elapsed


async def commands(
    server: RedisServer, make: SubjectFactory, *, conversations: int, messages: int
) -> tuple[float, float, str, int]:
    """Client commands and round trips per message, which commands, and the bytes stored
    per conversation at the end.

    Each conversation's first message is sent before counting (it creates the conversation
    and loads the Lua scripts once); then ``messages`` more each, one at a time.
    """
    server.flush()
    subject = make(server.url, connection_class=CountingConnection)
    await subject.setup()
    try:
        for conversation in range(conversations):
            await subject.handle(conversation, 0)
        CountingConnection.reset()
        for conversation in range(conversations):
            for step in range(1, messages + 1):
                await subject.handle(conversation, step)
        sent = conversations * messages
        total = sum(CountingConnection.commands.values())
        trips = CountingConnection.round_trips
        names = ", ".join(
            f"{name} {count / sent:g}"
            for name, count in sorted(CountingConnection.commands.items())
        )
        stored = await subject.stored_bytes(0)
    finally:
        await subject.close()
    return total / sent, trips / sent, names, stored

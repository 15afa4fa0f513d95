"""Scenarios with several worker processes on one Redis: scaling, and contention on one key.

Workers are spawned processes; each waits at a barrier, then runs its share and reports when
it started and ended, so start-up time is not measured.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.flows import Tally
from benchmarks.harness import CountingConnection, Problems, RedisServer
from benchmarks.subjects import FloorSubject, FlowhqSubject
from flowhq import ConflictError, ConversationKey, Headquarters, InboundMessage, RedisStore

SUBJECTS = {"flowhq": FlowhqSubject, "floor": FloorSubject}

BARRIER_SECONDS = 60
"""How long a worker waits for the others to be ready (one that died never comes)."""


def _run_workers(
    target: Callable[..., None],
    per_worker: Sequence[tuple[Any, ...]],
    label: str,
    problems: Problems,
) -> list[Any]:
    """Run ``target(results, *args, barrier)`` in one spawned process per ``per_worker``
    entry and return what each put on ``results``. A worker that dies is reported and never
    hangs the run: the others time out at the barrier, and the rest are terminated.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(per_worker), timeout=BARRIER_SECONDS)
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(results, *args, barrier)) for args in per_worker
    ]
    for process in processes:
        process.start()
    reports: list[Any] = []
    deadline = time.monotonic() + 600
    try:
        while len(reports) < len(processes) and time.monotonic() < deadline:
            try:
                reports.append(results.get(timeout=1))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    break
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
            if process.exitcode != 0:
                problems.found.append(f"{label} worker exited with {process.exitcode}")
    if len(reports) < len(processes):
        raise RuntimeError(f"{label}: {len(processes) - len(reports)} worker(s) never reported")
    return reports


async def _share(
    kind: str, url: str, first: int, conversations: int, messages: int, in_flight: int, barrier: Any
) -> tuple[float, float]:
    subject = SUBJECTS[kind](url)
    await subject.setup()
    pending = iter(range(first, first + conversations))

    async def worker() -> None:
        for conversation in pending:
            for step in range(messages):
                await subject.handle(conversation, step)

    barrier.wait()
    started = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    ended = time.perf_counter()
    await subject.close()
    return started, ended


def _scaling_worker(results: Any, *args: Any) -> None:
    results.put(asyncio.run(_share(*args)))


def scaling(
    server: RedisServer,
    kind: str,
    workers: int,
    *,
    conversations: int,
    messages: int,
    in_flight: int,
    problems: Problems,
) -> float:
    """Total messages/s of ``workers`` processes, each running ``conversations`` of its own."""
    server.flush()
    per_worker = [
        (kind, server.url, n * conversations, conversations, messages, in_flight)
        for n in range(workers)
    ]
    spans = _run_workers(_scaling_worker, per_worker, kind, problems)
    asyncio.run(_check_scaling(server, kind, workers * conversations, messages, problems))
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return workers * conversations * messages / elapsed


async def _check_scaling(
    server: RedisServer, kind: str, conversations: int, messages: int, problems: Problems
) -> None:
    subject = SUBJECTS[kind](server.url)
    counts = [await subject.applied(c) for c in range(conversations)]
    await subject.close()
    wrong = sum(1 for n in counts if n != messages)
    if wrong:
        problems.found.append(f"{kind} workers: {wrong} conversations applied a wrong count")


# -- contention ---------------------------------------------------------------------------

IDENTIFIER = "+15550000"


async def _contend(url: str, worker: int, messages: int, barrier: Any) -> dict[str, Any]:
    store = RedisStore.from_url(url, connection_class=CountingConnection)
    hq = Headquarters(flows=[Tally], store=store)  # default settings
    applied, conflicts, errors = 0, 0, []
    await store.load(ConversationKey("whatsapp", IDENTIFIER))  # connect before the start
    barrier.wait()
    CountingConnection.reset()
    started = time.perf_counter()
    for n in range(messages):
        inbound = InboundMessage("whatsapp", IDENTIFIER, f"w{worker}-{n}", str(n))
        try:
            await hq.handle(inbound)
            applied += 1
        except ConflictError:
            conflicts += 1
        except Exception as exc:  # reported as a problem; the run goes on
            errors.append(repr(exc))
    ended = time.perf_counter()
    await store.close()
    return {
        "applied": applied,
        "conflicts": conflicts,
        "errors": errors,
        "started": started,
        "ended": ended,
        "commands": dict(CountingConnection.commands),
    }


def _contention_worker(results: Any, *args: Any) -> None:
    results.put(asyncio.run(_contend(*args)))


def contention(
    server: RedisServer, *, workers: int, messages: int, problems: Problems
) -> tuple[float, float, dict[str, float]]:
    """``workers`` processes send ``messages`` each to ONE conversation (Tally flow).

    Returns the share of messages that ended in ``ConflictError`` (%), the messages/s, and
    the client commands per message by name (EVALSHA: commit attempts; HGETALL: loads).
    Checks that the document applied exactly the messages that succeeded.
    """
    server.flush()
    asyncio.run(_start_tally(server.url))
    per_worker = [(server.url, n, messages) for n in range(workers)]
    reports = _run_workers(_contention_worker, per_worker, "contention", problems)
    applied = sum(r["applied"] for r in reports)
    conflicts = sum(r["conflicts"] for r in reports)
    for report in reports:
        for error in report["errors"][:3]:
            problems.found.append(f"contention: unexpected error {error}")
    problems.expect("contention: messages accounted for", applied + conflicts, workers * messages)
    answers, revision, inbox = asyncio.run(_tally(server.url))
    problems.expect("contention: answers counted in the document", answers, applied)
    problems.expect("contention: revision (one commit per applied message)", revision, applied + 1)
    problems.expect("contention: no message id twice in the inbox", len(set(inbox)), len(inbox))
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    sent = workers * messages
    commands: dict[str, float] = {}
    for report in reports:
        for name, count in report["commands"].items():
            if not name.startswith("SCRIPT"):  # each process loads the scripts once
                commands[name] = commands.get(name, 0) + count / sent
    return conflicts / sent * 100, sent / elapsed, commands


async def _start_tally(url: str) -> None:
    store = RedisStore.from_url(url)
    await Headquarters(flows=[Tally], store=store).handle(
        InboundMessage("whatsapp", IDENTIFIER, "start", "start")
    )
    await store.close()


async def _tally(url: str) -> tuple[int, int, list[str]]:
    store = RedisStore.from_url(url)
    loaded = await store.load(ConversationKey("whatsapp", IDENTIFIER))
    await store.close()
    assert loaded.document is not None
    document = loaded.document
    return document.validation.attempts.get("number", 0), loaded.revision, list(document.inbox)

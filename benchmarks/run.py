"""Run every benchmark, print one Markdown table and write docs/benchmarks.md (``make bench``).

``make bench QUICK=1`` (or ``FLOWHQ_BENCH_QUICK=1``, or ``--quick``) is the smoke version:
small counts, one run each, the table printed but docs/benchmarks.md left alone. Exits 1 if
any scenario lost or duplicated a message. Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` as well as `python -m benchmarks.run`
    sys.path.insert(0, str(ROOT))

from benchmarks import in_process, observability, on_redis, processes, report, webhook  # noqa: E402
from benchmarks.harness import Problems, RedisServer, Row, Settings  # noqa: E402
from benchmarks.subjects import AiogramSubject, FloorSubject, FlowhqSubject  # noqa: E402
from examples.signup import Signup  # noqa: E402

OUTPUT = ROOT / "docs" / "benchmarks.md"
BURST = 20
MESSAGES = 40  # per conversation in the throughput scenarios

THROUGHPUT: dict[str, Callable[..., Any]] = {
    "floor": FloorSubject,
    "aiogram": functools.partial(AiogramSubject, isolation=False),
    "aiogram + isolation": functools.partial(AiogramSubject, isolation=True),
    "flowhq cold": functools.partial(FlowhqSubject, warm=False),
    "flowhq warm": FlowhqSubject,
    "flowhq warm, transcript off": functools.partial(FlowhqSubject, transcript=0),
}
BURSTS: dict[str, Callable[..., Any]] = {
    "burst floor (per-key asyncio.Lock + CAS)": functools.partial(FloorSubject, lock=True),
    "aiogram + isolation": functools.partial(AiogramSubject, isolation=True),
    "flowhq warm": FlowhqSubject,
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def repeat(
    runs: int, jobs: dict[str, Callable[[], Coroutine[Any, Any, float]]]
) -> dict[str, list[float]]:
    """Run every job ``runs`` times, interleaved (run 1 of each, then run 2, …)."""
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    for run in range(runs):
        for name, job in jobs.items():
            samples[name].append(await job())
            say(f"  run {run + 1}: {name}: {samples[name][-1]:,.1f}")
    return samples


async def on_redis_scenarios(
    server: RedisServer, settings: Settings, problems: Problems
) -> list[Row]:
    rows: list[Row] = []
    messages = settings.scale(MESSAGES, 10)
    say("throughput on Redis")
    jobs: dict[str, Callable[[], Coroutine[Any, Any, float]]] = {}
    for in_flight, conversations in ((1, settings.scale(100, 3)), (50, settings.scale(200, 50))):
        for name, make in THROUGHPUT.items():
            jobs[f"{name}|{in_flight}"] = functools.partial(
                on_redis.throughput,
                server,
                make,
                conversations=conversations,
                messages=messages,
                in_flight=in_flight,
                problems=problems,
            )
    for key, samples in (await repeat(settings.runs, jobs)).items():
        name, in_flight = key.split("|")
        rows.append(Row(name, in_flight, "msg/s", samples, group="Message throughput on Redis"))

    say("one-conversation burst")
    bursts = {
        name: functools.partial(
            on_redis.burst,
            server,
            make,
            bursts=settings.scale(3 if "aiogram" in name else 200, 1),
            size=BURST,
            problems=problems,
        )
        for name, make in BURSTS.items()
    }
    for name, samples in (await repeat(settings.runs, bursts)).items():
        rows.append(Row(name, f"{BURST} at once, 1 conversation", "msg/s", samples, group="Burst"))

    say("client commands per message")
    for name, make in THROUGHPUT.items():
        per_message, trips, names, stored = await on_redis.commands(
            server, make, conversations=settings.scale(20, 3), messages=settings.scale(9, 3)
        )
        rows.append(
            Row(
                name,
                "1",
                "commands/msg",
                [per_message],
                higher_is_better=False,
                group="Client commands per message",
                note=f"{trips:g} round trips/msg: {names}; {stored:,} bytes stored",
            )
        )
    return rows


def process_scenarios(server: RedisServer, settings: Settings, problems: Problems) -> list[Row]:
    rows: list[Row] = []
    say("worker processes")
    group = "Worker processes on one Redis"
    samples: dict[tuple[str, int], list[float]] = {}
    for run in range(settings.runs):
        for kind in ("floor", "flowhq"):
            for workers in (1, 2):
                speed = processes.scaling(
                    server,
                    kind,
                    workers,
                    conversations=settings.scale(200, 50),
                    messages=settings.scale(MESSAGES, 10),
                    in_flight=50,
                    problems=problems,
                )
                samples.setdefault((kind, workers), []).append(speed)
                say(f"  run {run + 1}: {kind} × {workers}: {speed:,.0f}")
    for (kind, workers), speeds in samples.items():
        label = "flowhq warm" if kind == "flowhq" else kind
        plural = "es" if workers > 1 else ""
        scenario = f"{label}, {workers} process{plural}"
        rows.append(Row(scenario, "50 per process", "msg/s", speeds, group=group))
    say("contention")
    shares, speeds, attempts = [], [], []
    for run in range(settings.runs):
        share, speed, commands = processes.contention(
            server, workers=4, messages=settings.scale(200, 50), problems=problems
        )
        shares.append(share)
        speeds.append(speed)
        attempts.append(commands)
        say(f"  run {run + 1}: {share:.2f}% conflicts, {speed:,.0f} msg/s, {commands}")
    group = "Contention: 4 processes × 200 messages, one conversation"
    middle = sorted(range(len(speeds)), key=lambda n: speeds[n])[len(speeds) // 2]
    spent = ", ".join(f"{name} {count:.2f}" for name, count in sorted(attempts[middle].items()))
    rows.append(Row("flowhq: ConflictError", "4 processes", "%", shares, False, group=group))
    rows.append(
        Row(
            "flowhq: throughput",
            "4 processes",
            "msg/s",
            speeds,
            group=group,
            note=f"client commands/msg (median run): {spent}",
        )
    )
    return rows


def webhook_scenarios(server: RedisServer, settings: Settings, problems: Problems) -> list[Row]:
    say("WhatsApp webhook")
    group = "WhatsApp webhook: POST to 200, and messages processed"
    results: dict[int, list[tuple[float, float, float]]] = {1: [], 2: []}
    for run in range(settings.runs):
        for workers in (1, 2):
            measured = webhook.run(
                server,
                workers,
                conversations=settings.scale(200, 20),
                messages=settings.scale(10, 3),
                problems=problems,
            )
            results[workers].append(measured)
            p50, p99, speed = measured
            say(f"  run {run + 1}: {workers} worker(s): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            say(f"  run {run + 1}: {workers} worker(s): {speed:,.0f} msg/s")
    slow: list[tuple[float, float]] = []
    for run in range(settings.runs):
        slow.append(
            webhook.with_slow_steps(
                server,
                2,
                conversations=settings.scale(200, 20),
                messages=settings.scale(10, 3),
                pause=1.0,
                problems=problems,
            )
        )
        p50, p99 = slow[-1]
        say(f"  run {run + 1}: slow steps, 2 workers: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    rows = []
    for workers, runs in results.items():
        plural = "es" if workers > 1 else ""
        label = f"{workers} worker process{plural}"
        rows.append(
            Row(
                f"ack latency p50, {label}",
                "10, paced",
                "ms",
                [r[0] for r in runs],
                False,
                group=group,
            )
        )
        rows.append(
            Row(
                f"ack latency p99, {label}",
                "10, paced",
                "ms",
                [r[1] for r in runs],
                False,
                group=group,
            )
        )
        rows.append(
            Row(
                f"messages processed, {label}",
                "200 conversations",
                "msg/s",
                [r[2] for r in runs],
                group=group,
            )
        )
    rows += webhook_floor_rows(server, settings, problems, group)
    for index, name in enumerate(("p50", "p99")):
        rows.append(
            Row(
                f"ack latency {name}, 2 worker processes, a 2 s step every 20",
                "200, paced",
                "ms",
                [r[index] for r in slow],
                False,
                group=group,
            )
        )
    return rows


def webhook_floor_rows(
    server: RedisServer, settings: Settings, problems: Problems, group: str
) -> list[Row]:
    """One worker process with and without read receipts, against the floor of the same path
    (the three interleaved in each run, so they share the machine's moment)."""
    floors: list[float] = []
    measured: dict[bool, list[float]] = {True: [], False: []}
    for run in range(settings.runs):
        size = {"conversations": settings.scale(200, 20), "messages": settings.scale(10, 3)}
        floors.append(webhook.floor(server, **size, problems=problems))
        for receipts, speeds in measured.items():
            speeds.append(
                webhook.run(server, 1, **size, problems=problems, read_receipts=receipts)[2]
            )
        say(
            f"  run {run + 1}: floor {floors[-1]:,.0f} msg/s, receipts on "
            f"{measured[True][-1]:,.0f} msg/s, off {measured[False][-1]:,.0f} msg/s"
        )
    note = "Starlette + HMAC + XADD + XREADGROUP + GET/CAS + one httpx POST + XACK"
    rows = [
        Row(
            f"messages processed, 1 worker process, read receipts {'on' if receipts else 'off'}",
            "200 conversations",
            "msg/s",
            speeds,
            group=group,
            vs_floor=statistics.median(speeds) / statistics.median(floors),
        )
        for receipts, speeds in measured.items()
    ]
    rows.append(
        Row(
            "floor of the webhook path, 1 process",
            "200 conversations",
            "msg/s",
            floors,
            group=group,
            note=note,
        )
    )
    return rows


async def memory_scenarios(settings: Settings, problems: Problems) -> list[Row]:
    say("MemoryStore")
    conversations = settings.scale(50, 5)
    jobs = {
        "signup": functools.partial(
            in_process.memory_signup,
            conversations=conversations,
            messages=MESSAGES,
            problems=problems,
        ),
        "5-state ring": functools.partial(
            in_process.memory_chain, 5, conversations=conversations, messages=60, problems=problems
        ),
        "50-state ring": functools.partial(
            in_process.memory_chain, 50, conversations=conversations, messages=60, problems=problems
        ),
        "signup, fresh conversation": functools.partial(
            in_process.memory_history,
            0,
            conversations=settings.scale(200, 20),
            problems=problems,
            cache=True,
        ),
        "signup, after 200 answers": functools.partial(
            in_process.memory_history,
            200,
            conversations=settings.scale(200, 20),
            problems=problems,
            cache=True,
        ),
        "signup, fresh conversation, cold": functools.partial(
            in_process.memory_history,
            0,
            conversations=settings.scale(200, 20),
            problems=problems,
            cache=False,
        ),
        "signup, after 200 answers, cold": functools.partial(
            in_process.memory_history,
            200,
            conversations=settings.scale(200, 20),
            problems=problems,
            cache=False,
        ),
    }
    group = "MemoryStore, one message at a time"
    return [
        Row(name, "1", "µs/msg", samples, higher_is_better=False, group=group)
        for name, samples in (await repeat(settings.runs, jobs)).items()
    ]


async def observability_scenarios(settings: Settings, problems: Problems) -> list[Row]:
    say("observability cost")
    jobs = {
        mode: functools.partial(
            observability.cost,
            mode,
            conversations=settings.scale(50, 5),
            messages=MESSAGES,
            problems=problems,
        )
        for mode in observability.MODES
    }
    group = "Metrics and traces: signup on MemoryStore with a messenger, one message at a time"
    return [
        Row(mode, "1", "µs/msg", samples, higher_is_better=False, group=group)
        for mode, samples in (await repeat(settings.runs, jobs)).items()
    ]


def engine_scenarios(settings: Settings) -> list[Row]:
    say("chart step")
    rounds = settings.scale(3000, 300)
    cases = [("signup", Signup, ["email"], "valid"), ("50-state ring", None, ["q7"], "valid")]
    rows = []
    group = "Chart step: restore at a configuration + one event"
    for label, flow, configuration, event in cases:
        chart = flow or in_process.chain(50)
        for engine, step in (
            ("python-statemachine", in_process.statemachine_step),
            ("flowhq compiled", in_process.compiled_step),
        ):
            samples = [step(chart, configuration, event, rounds) for _ in range(settings.runs)]
            rows.append(
                Row(f"{engine}, {label}", "", "µs", samples, higher_is_better=False, group=group)
            )
    return rows


def paths_scenarios(settings: Settings, problems: Problems) -> list[Row]:
    say("check --paths")
    group = "flowhq check --paths"
    rows = []
    for label, flow in in_process.FLOWS_FOR_PATHS.items():
        samples = [in_process.plan_seconds(flow) for _ in range(settings.runs)]
        rows.append(Row(f"plan(), {label}", "", "s", samples, False, group=group))
    samples = [
        in_process.check_paths_command("benchmarks.flows:Menu12", problems)
        for _ in range(settings.runs)
    ]
    rows.append(
        Row(
            "whole command, menu12, interpreter start included",
            "",
            "s",
            samples,
            False,
            group=group,
        )
    )
    return rows


def find(rows: list[Row], scenario: str, in_flight: str | None = None) -> Row | None:
    for row in rows:
        if row.scenario == scenario and (in_flight is None or row.in_flight == in_flight):
            return row
    return None


def relate(rows: list[Row]) -> None:
    """Fill the ratio columns and say whether each target was met."""

    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    for row in rows:
        if row.group == "Message throughput on Redis":
            floor = find(rows, "floor", row.in_flight)
            aiogram = find(rows, "aiogram + isolation", row.in_flight)
            if floor is not None and row is not floor:
                row.vs_floor = row.median / floor.median
            if aiogram is not None and row is not aiogram and row.scenario != "floor":
                row.vs_aiogram = row.median / aiogram.median
            plain = find(rows, "aiogram", row.in_flight)
            if plain is not None and row.scenario.startswith("flowhq"):
                row.note = f"{row.median / plain.median:.2f}× aiogram without isolation"
            if row.scenario == "flowhq warm" and row.in_flight == "50":
                ok = (row.vs_aiogram or 0) >= 1.5 and (row.vs_floor or 0) >= 0.5
                row.target = f"≥ 1.5× aiogram + isolation and ≥ 0.5× floor: {mark(ok)}"
        elif row.group == "Burst":
            floor = find(rows, "burst floor (per-key asyncio.Lock + CAS)")
            aiogram = find(rows, "aiogram + isolation", row.in_flight)
            if floor is not None and row is not floor:
                row.vs_floor = row.median / floor.median
            if row.scenario == "flowhq warm":
                if aiogram is not None:
                    row.vs_aiogram = row.median / aiogram.median
                row.target = f"≥ 0.5× burst floor: {mark((row.vs_floor or 0) >= 0.5)}"
        elif row.group == "Client commands per message" and row.scenario == "flowhq warm":
            row.target = f"1 per message: {mark(row.median <= 1.0)}"
        elif row.scenario == "signup" and row.unit == "µs/msg":
            row.target = f"≤ 150 µs: {mark(row.median <= 150)}"
        elif row.scenario == "50-state ring":
            five = find(rows, "5-state ring")
            if five is not None:
                row.note = f"{row.median / five.median:.2f}× the 5-state ring"
                row.target = f"flat in chart size (≤ 1.2×): {mark(row.median / five.median <= 1.2)}"
        elif row.scenario.startswith("signup, after 200 answers"):
            suffix = row.scenario.removeprefix("signup, after 200 answers")
            fresh = find(rows, f"signup, fresh conversation{suffix}")
            if fresh is not None:
                row.note = f"{row.median / fresh.median:.2f}× a fresh conversation"
        elif row.scenario.startswith("flowhq compiled"):
            other = find(rows, row.scenario.replace("flowhq compiled", "python-statemachine"))
            if other is not None:
                row.note = f"{other.median / row.median:.1f}× faster than python-statemachine"
        elif row.group == "Worker processes on one Redis" and "2 processes" in row.scenario:
            one = find(rows, row.scenario.replace("2 processes", "1 process"))
            if one is not None:
                speedup = row.median / one.median
                row.note = f"{speedup:.2f}× one process"
                if row.scenario.startswith("flowhq"):
                    row.target = f"≥ 1.7× one process: {mark(speedup >= 1.7)}"
        elif row.scenario == "flowhq: ConflictError":
            row.target = f"≤ 0.5%: {mark(row.median <= 0.5)}"
        elif row.scenario == "messages processed, 2 worker processes":
            one = find(rows, "messages processed, 1 worker process")
            if one is not None:
                row.note = f"{row.median / one.median:.2f}× one process"
        elif row.group.startswith("Metrics and traces") and row.scenario != "off":
            off = find(rows, "off", row.in_flight)
            if off is not None:
                row.note = f"+{row.median - off.median:.0f} µs ({row.median / off.median:.2f}× off)"
        elif row.scenario.startswith("messages processed, 1 worker process, read receipts"):
            row.target = f"≥ 0.5× floor: {mark((row.vs_floor or 0) >= 0.5)}"
        elif row.scenario.startswith("whole command"):
            row.target = f"< 2 s: {mark(row.median < 2)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke version: small, one run")
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("FLOWHQ_BENCH_QUICK", "") not in {"", "0"}
    settings = Settings(quick=quick)
    output = args.output or (None if quick else OUTPUT)
    problems = Problems()
    server = RedisServer()
    try:
        rows = asyncio.run(on_redis_scenarios(server, settings, problems))
        rows += process_scenarios(server, settings, problems)
        rows += webhook_scenarios(server, settings, problems)
        rows += asyncio.run(memory_scenarios(settings, problems))
        rows += asyncio.run(observability_scenarios(settings, problems))
        rows += engine_scenarios(settings)
        rows += paths_scenarios(settings, problems)
        environment = report.environment(server, settings)
    finally:
        server.stop()
    relate(rows)
    rendered = report.table(rows)
    notes = [f"**Problem:** {problem}" for problem in problems.found]
    print("\n".join(environment))
    print()
    print(rendered)
    if output is not None:
        output.write_text(report.document(environment, rendered, notes))
        say(f"wrote {output}")
    if problems.found:
        say("FAILED: messages were lost or applied twice:")
        for problem in problems.found:
            say(f"  - {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

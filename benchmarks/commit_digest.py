"""What the commit's digest check costs: one EVALSHA of a 3 KB document, with and without it.

``python -m benchmarks.commit_digest`` starts its own redis-server (loopback, no
persistence), commits the same 3 KB conversation over and over with ``RedisStore.commit``,
once passing ``digest=`` (the script hashes the stored document with ``redis.sha1hex`` and
compares) and once without, alternating rounds so both see the same machine load. It prints
the median time per commit seen by the client (the digest of the previous document included,
as Headquarters computes it) and the server's own time per EVALSHA (``INFO commandstats``).
Both paths are one round trip. Nothing is asserted: it prints numbers.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/commit_digest.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import RedisServer  # noqa: E402
from flowhq import ConversationKey, RedisStore  # noqa: E402
from flowhq.persistence.store import digest_of  # noqa: E402
from flowhq.state.document import (  # noqa: E402
    Auth,
    Channel,
    ChartState,
    ConversationDocument,
    OutboxEntry,
    ValidationEntry,
    utc_now,
)

KEY = ConversationKey("whatsapp", "+15550001")
COMMITS = 2000  # per round
ROUNDS = 7


def document() -> ConversationDocument:
    """A signup conversation of about 3 KB as stored."""
    doc = ConversationDocument(channel=Channel("whatsapp", "+15550001"), auth=Auth("tok"))
    doc.dashboard = {f"field{n}": "x" * 40 for n in range(20)}
    doc.current.values = {"name": "Ann", "email": "ann@example.com"}
    doc.current.data = {"ask_email": {"failures": 1}}
    doc.current.tags = {"ask_name": "1", "ask_email": "2"}
    doc.chart = ChartState("signup", "abcdef0123456789", ["ask_email"], {})
    doc.validation.attempts = {"ask_name": 1, "ask_email": 2}
    doc.validation.history = [
        ValidationEntry("ask_email", "ask_email", utc_now(), False, "bad email") for _ in range(8)
    ]
    doc.inbox = [f"wamid.HBgLMTU1NTAwMDEVAgASGBQzQUI{n:06}" for n in range(20)]
    doc.outbox = [OutboxEntry(1, "Thanks Ann! Your email?", [("yes", "Yes")], 1.7e9, "1")]
    return doc


async def round_of(store: RedisStore, *, checked: bool) -> float:
    """Median seconds per commit over ``COMMITS`` sequential commits."""
    doc = document()
    loaded = await store.load(KEY)
    revision, raw = loaded.revision, loaded.raw
    times = []
    for _ in range(COMMITS):
        started = time.perf_counter()
        digest = digest_of(raw) if checked and raw is not None else None
        result = await store.commit(KEY, doc, expected=revision, digest=digest)
        times.append(time.perf_counter() - started)
        assert result.ok
        revision, raw = result.revision, result.raw
    return statistics.median(times)


def evalsha_usec(server: RedisServer) -> float:
    with server.admin() as admin:
        stats = admin.info("commandstats")["cmdstat_evalsha"]
        admin.config_resetstat()
    return float(stats["usec_per_call"])


async def main() -> None:
    server = RedisServer()
    try:
        store = RedisStore.from_url(server.url)
        await store.commit(KEY, document(), expected=0)
        print(f"document: {len(store.codec.encode(document()))} bytes; redis {server.version}")
        results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        evalsha_usec(server)
        for _ in range(ROUNDS):
            for checked in (False, True):
                client = await round_of(store, checked=checked)
                results[checked].append((client, evalsha_usec(server)))
        await store.close()
    finally:
        server.stop()
    for checked, rows in results.items():
        client = statistics.median(row[0] for row in rows) * 1e6
        inside = statistics.median(row[1] for row in rows)
        name = "with digest   " if checked else "without digest"
        print(f"{name}: {client:6.1f} µs per commit (client), {inside:5.1f} µs per EVALSHA")


if __name__ == "__main__":
    asyncio.run(main())

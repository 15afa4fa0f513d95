"""Scrape /metrics after a known workload on two uvicorn workers and check every count.

The example order bot (tests/observability/metrics_app.py) runs as ``uvicorn --workers 2``
in prometheus-client's multiprocess mode, against redis-server and the fake Graph API. Six
users each order once; two updates come twice; the Graph API refuses every reply to one
user (code 131047). Whichever worker answers a scrape, the counts are the sums of both:
none lost, none doubled. Nothing scraped or logged carries a phone number, a text or the
token.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from examples.order_status import OrderStatus
from flowhq.channels.whatsapp.signature import sign
from flowhq.statecharts.model import all_states
from flowhq.testing.whatsapp import FakeGraphApi, delivery, text
from tests.channels.whatsapp.fixtures import APP_SECRET, FAKE_TOKEN, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
USERS = [f"1555777{n:04d}" for n in range(6)]
REFUSED = USERS[0]
DUPLICATED = USERS[1:3]
GREETING = "hello-zebra-7"
METRICS_TOKEN = "metrics-token-9d1e"


def scrape(url: str, token: str | None = METRICS_TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=5)
    return response.status_code, response.text


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def post(client: httpx.AsyncClient, url: str, user: str, body: str, message_id: str) -> None:
    payload = delivery(([text(user, body, message_id=message_id)], []))
    response = await client.post(
        f"{url}/webhook",
        content=payload,
        headers={"x-hub-signature-256": sign(payload, APP_SECRET)},
    )
    assert response.status_code == 200


async def converse(client: httpx.AsyncClient, url: str, user: str) -> None:
    for n, body in enumerate([GREETING, "A100", "no"]):
        await post(client, url, user, body, f"wamid.{user}.{n}")
        if n == 0 and user in DUPLICATED:
            await post(client, url, user, body, f"wamid.{user}.{n}")  # Meta sends it again


@pytest.fixture
def bot(redis_url: str, fake_graph: tuple[FakeGraphApi, str], tmp_path: Path) -> tuple[str, Path]:
    """``uvicorn --workers 2`` of the metrics app: (base URL, its stderr file)."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    log = tmp_path / "stderr.log"
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "REDIS_URL": redis_url,
        "WHATSAPP_GRAPH_URL": fake_graph[1],
        "WHATSAPP_TOKEN": FAKE_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    command = [sys.executable, "-m", "uvicorn", "tests.observability.metrics_app:app"]
    command += ["--workers", "2", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        with redis.Redis.from_url(redis_url) as admin:
            while {admin.get(f"flowhq:updates:{{{n}}}:lease") for n in range(2)} - {None} == set():
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.1)
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_two_workers_count_every_message_once(
    bot: tuple[str, Path], fake_graph: tuple[FakeGraphApi, str], redis_url: str
) -> None:
    url, log = bot
    fake = fake_graph[0]
    fake.fail_for(REFUSED)
    await asyncio.sleep(2.5)  # both workers hold their share of the shards
    with redis.Redis.from_url(redis_url) as admin:
        holders = {admin.get(f"flowhq:updates:{{{n}}}:lease") for n in range(2)}
    assert len(holders - {None}) == 2  # the two shards are held by two processes
    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(converse(client, url, user) for user in USERS))

    def handled() -> bool:
        found = samples(scrape(url)[1])
        outcomes = ("processed", "duplicate")
        return (
            sum(
                value(found, "flowhq_messages_total", flow="order_status", outcome=o)
                for o in outcomes
            )
            == 20
        )

    await wait_for(handled)
    await asyncio.sleep(1.5)  # a redelivery pass and the sends' last counts
    assert scrape(url, token=None)[0] == 401
    assert scrape(url, token="wrong")[0] == 401
    bodies = [scrape(url)[1] for _ in range(6)]  # each lands on either worker
    found = samples(bodies[0])
    assert all(
        samples(body) == found or _only_gauges_differ(samples(body), found) for body in bodies
    )
    flow = "order_status"
    assert value(found, "flowhq_messages_total", flow=flow, outcome="processed") == 18
    assert value(found, "flowhq_messages_total", flow=flow, outcome="duplicate") == 2
    assert value(found, "flowhq_steps_total", flow=flow) == 18
    assert value(found, "flowhq_step_seconds_count", flow=flow) == 18
    for state in ("order_id", "lookup", "report", "another", "bye"):
        assert value(found, "flowhq_state_entries_total", flow=flow, state=state) == 6, state
    assert value(found, "flowhq_state_entries_total", flow=flow, state="unknown") == 0
    assert value(found, "flowhq_flow_finishes_total", flow=flow, state="bye") == 6
    assert value(found, "flowhq_commit_conflicts_total", flow=flow) == 0
    assert value(found, "flowhq_sends_total", result="sent", code="none") == 15
    assert value(found, "flowhq_sends_total", result="permanent", code="131047") == 3
    assert value(found, "flowhq_send_seconds_count") == 18
    assert value(found, "flowhq_redelivered_total") == 0
    assert value(found, "flowhq_outbox_pending") == 0
    for shard in ("0", "1"):
        assert value(found, "flowhq_queue_pending", shard=shard) == 0
    assert len(fake.messages()) == 5 * 4  # per served user: question, report, another, bye

    # Nothing identifies a user or repeats what was said; the token stays out.
    secrets = [*USERS, GREETING, "A100", "shipped", FAKE_TOKEN, METRICS_TOKEN]
    logged = log.read_text()
    assert "131047" in logged or "refused" in logged  # the refusals were logged...
    for secret in secrets:
        assert secret not in bodies[0], secret
        assert secret not in logged, secret  # ...without the phone number
    # Every label value is a declared name, a fixed word, a shard or a short error code.
    states = {state.id for state in all_states(OrderStatus)}
    words = {"processed", "duplicate", "rejected", "error", "sent", "temporary", "permanent"}
    allowed = {"order_status", "none", "other", *states, *words}
    for name, labels in found:
        for label, given in labels:
            if label == "le":
                continue
            if label in {"shard", "code"} and given.isdigit():
                assert len(given) <= 6, (name, label, given)
                continue
            assert given in allowed, (name, label, given)


def _only_gauges_differ(one: dict, other: dict) -> bool:  # type: ignore[type-arg]
    """Counters agree; a gauge's most recent value may be a moment newer in one scrape."""
    return all(
        one.get(key) == other.get(key)
        for key in one.keys() | other.keys()
        if key[0].endswith(("_total", "_count", "_sum", "_bucket")) and not key[0].endswith("_sum")
    )

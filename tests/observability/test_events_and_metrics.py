"""The observer seam and the Prometheus metrics fed by it, without a Headquarters."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from flowhq.observability import (
    Conflict,
    Handled,
    Paused,
    PrometheusMetrics,
    QueueDepth,
    Redelivered,
    Sent,
    StepDone,
    TimerFired,
    TimersDue,
)
from flowhq.observability.events import emit
from flowhq.observability.metrics import MAX_CODES


def value(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    found = [v for n, ls, v in metrics.samples() if n == name and ls == labels]
    assert len(found) == 1, (name, labels, list(metrics.samples()))
    return found[0]


def test_each_event_feeds_its_metric() -> None:
    metrics = PrometheusMetrics()
    step = StepDone("shop", ("ask",), ("confirm",), ("confirm",), None, 0.004, 1)
    for event in [
        step,
        StepDone("shop", ("confirm",), ("done",), ("pay", "done"), "done", 0.002, 0),
        Handled("shop", "processed"),
        Handled(None, "rejected"),
        Conflict("shop"),
        Sent("sent", None, 2, 0.01),
        Sent("permanent", 131047, 1, 0.01),
        Redelivered(sent=3, pending=5),
        QueueDepth(1, 4, 2.5),
        TimersDue(7),
        TimerFired("shop", 1.5),
        Paused(2),
    ]:
        metrics.observe(event)
    assert value(metrics, "flowhq_steps_total", flow="shop") == 2
    assert value(metrics, "flowhq_step_seconds_count", flow="shop") == 2
    assert value(metrics, "flowhq_state_entries_total", flow="shop", state="pay") == 1
    assert value(metrics, "flowhq_state_entries_total", flow="shop", state="done") == 1
    assert value(metrics, "flowhq_flow_finishes_total", flow="shop", state="done") == 1
    assert value(metrics, "flowhq_messages_total", flow="shop", outcome="processed") == 1
    assert value(metrics, "flowhq_messages_total", flow="none", outcome="rejected") == 1
    assert value(metrics, "flowhq_commit_conflicts_total", flow="shop") == 1
    assert value(metrics, "flowhq_sends_total", result="sent", code="none") == 1
    assert value(metrics, "flowhq_sends_total", result="permanent", code="131047") == 1
    assert value(metrics, "flowhq_redelivered_total") == 3
    assert value(metrics, "flowhq_outbox_pending") == 5
    assert value(metrics, "flowhq_queue_pending", shard="1") == 4
    assert value(metrics, "flowhq_queue_oldest_seconds", shard="1") == 2.5
    assert value(metrics, "flowhq_timers_due") == 7
    assert value(metrics, "flowhq_timer_lag_seconds_count", flow="shop") == 1
    assert value(metrics, "flowhq_conversations_paused") == 2
    metrics.set_paused(0)
    assert value(metrics, "flowhq_conversations_paused") == 0


def test_error_codes_are_bounded() -> None:
    metrics = PrometheusMetrics()
    for code in range(MAX_CODES + 10):
        metrics.observe(Sent("permanent", 100_000 + code, 1, 0.0))
    codes = {ls["code"] for n, ls, _ in metrics.samples() if n == "flowhq_sends_total"}
    assert len(codes) == MAX_CODES + 1
    assert "other" in codes
    assert value(metrics, "flowhq_sends_total", result="permanent", code="other") == 10


def test_two_instances_do_not_clash_and_a_registry_can_be_given() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics()
    given = PrometheusMetrics(registry)
    given.observe(Handled("shop", "duplicate"))
    assert (
        registry.get_sample_value("flowhq_messages_total", {"flow": "shop", "outcome": "duplicate"})
        == 1
    )
    body, content_type = given.render()
    assert b'flowhq_messages_total{flow="shop",outcome="duplicate"} 1.0' in body
    assert content_type.startswith("text/plain")
    assert given.render("application/openmetrics-text")[1].startswith("application/openmetrics")


def test_an_observer_that_raises_is_logged_and_the_others_still_see_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def observe(self, event: object) -> None:
            raise RuntimeError("broken")

    metrics = PrometheusMetrics()
    with caplog.at_level(logging.ERROR, "flowhq.observability"):
        emit([Broken(), metrics], Handled("shop", "processed"))
    assert "observer" in caplog.text
    assert value(metrics, "flowhq_messages_total", flow="shop", outcome="processed") == 1


def test_the_dashboard_and_the_alerts_use_only_metrics_that_exist() -> None:
    import json
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    metrics = PrometheusMetrics()
    names = {family.name for family in metrics.registry.collect()}
    exposed = names | {f"{n}_total" for n in names}
    exposed |= {f"{n}_{suffix}" for n in names for suffix in ("bucket", "count", "sum")}
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    alerts = (docs / "alerts.yml").read_text()
    used = {m for e in [*expressions, alerts] for m in re.findall(r"\bflowhq_[a-z_]+", e)}
    assert used
    assert used <= exposed, used - exposed
    assert len(re.findall(r"- alert: ", alerts)) == 7
    documented = (docs / "operations.md").read_text()
    assert all(name in documented for name in re.findall(r"- alert: (\w+)", alerts))


async def test_the_webhook_app_serves_the_metrics_the_headquarters_already_has() -> None:
    import httpx

    from flowhq import Headquarters, InboundMessage, MemoryStore
    from flowhq.channels.whatsapp import webhook_app
    from tests.flows import Age

    mine = PrometheusMetrics()
    hq = Headquarters(flows=[Age], store=MemoryStore(), observers=[mine])
    app = webhook_app(hq, app_secret="s", verify_token="v", metrics=True)
    assert hq.observers == [mine]  # reused, not a second set of metrics
    await hq.handle(InboundMessage("whatsapp", "+15550100", "m1", "hi"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:
        response = await client.get("/metrics")  # no token asked for: open
    assert response.status_code == 200
    assert 'flowhq_messages_total{flow="age",outcome="processed"} 1.0' in response.text
    assert 'flowhq_queue_pending{shard="0"} 0.0' in response.text  # sampled at the scrape
    assert "flowhq_conversations_paused 0.0" in response.text
    await hq.pause("whatsapp", "+15550100")
    await hq.pause("whatsapp", "+15550101")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:
        assert "flowhq_conversations_paused 2.0" in (await client.get("/metrics")).text

    other = PrometheusMetrics()
    webhook_app(hq, app_secret="s", verify_token="v", metrics=other)
    assert hq.observers == [mine, other]
    bare = webhook_app(hq, app_secret="s", verify_token="v")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare), base_url="http://bot"
    ) as client:
        assert (await client.get("/metrics")).status_code == 404

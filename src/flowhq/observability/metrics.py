"""``PrometheusMetrics``: the events of a Headquarters as Prometheus metrics (extra ``[metrics]``).

Every label value is a declared name (a flow, a state), a fixed word (an outcome, a send
result) or a channel's error code (at most :data:`MAX_CODES` distinct ones, then
``other``): never an identifier, a text or a token, so the number of series is bounded by
the flows. See docs/operations.md for the metric list, the multiprocess mode and the
dashboard built on them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Protocol

from flowhq.observability.events import (
    Conflict,
    Event,
    Handled,
    Observer,
    Paused,
    QueueDepth,
    Redelivered,
    Sent,
    StepDone,
    TimerFired,
    TimersDue,
)

__all__ = ["MAX_CODES", "MULTIPROC_ENV", "PrometheusMetrics"]

MAX_CODES = 32
"""Distinct error codes kept as label values; any further code is counted as ``other``."""

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable that turns on prometheus-client's multiprocess mode."""

NONE = "none"
"""The ``flow`` label of what belongs to no flow (a refused message, a failure)."""

STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class _Attachable(Protocol):
    """What ``attach`` needs of a Headquarters (the observability room sits below it)."""

    observers: list[Observer]


def _prometheus() -> Any:
    try:
        import prometheus_client  # noqa: PLC0415 - an optional extra
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError(
            "PrometheusMetrics needs prometheus-client: pip install 'flowhq[metrics]'"
        ) from exc
    return prometheus_client


class PrometheusMetrics:
    """Prometheus metrics fed by a Headquarters' events (an :class:`Observer`).

    Pass it as ``Headquarters(observers=[metrics])``, or :meth:`attach` it later; the
    WhatsApp webhook app serves it at ``/metrics`` (``webhook_app(..., metrics=True)``).

    Args:
        registry: The ``prometheus_client.CollectorRegistry`` to register in (default: a
            new one, so two instances never clash). In multiprocess mode (the
            ``PROMETHEUS_MULTIPROC_DIR`` variable set) values go to that directory and
            :meth:`render` reads every process's.

    Raises:
        ImportError: prometheus-client is not installed.
    """

    def __init__(self, registry: Any = None) -> None:
        prometheus = _prometheus()
        self.registry = registry if registry is not None else prometheus.CollectorRegistry()
        self._codes: set[str] = set()
        counter, gauge, histogram = prometheus.Counter, prometheus.Gauge, prometheus.Histogram
        reg = {"registry": self.registry}
        latest = {"multiprocess_mode": "mostrecent", **reg}
        self.messages = counter(
            "flowhq_messages", "Inbound messages handled", ["flow", "outcome"], **reg
        )
        self.steps = counter("flowhq_steps", "Steps committed", ["flow"], **reg)
        self.step_seconds = histogram(
            "flowhq_step_seconds", "Load, step and commit", ["flow"], buckets=STEP_BUCKETS, **reg
        )
        self.conflicts = counter(
            "flowhq_commit_conflicts", "Commits lost to a concurrent writer", ["flow"], **reg
        )
        self.entries = counter(
            "flowhq_state_entries", "States entered (the funnel)", ["flow", "state"], **reg
        )
        self.finishes = counter(
            "flowhq_flow_finishes", "Flows finished, by final state", ["flow", "state"], **reg
        )
        self.sends = counter(
            "flowhq_sends", "Messenger calls by result and error code", ["result", "code"], **reg
        )
        self.send_seconds = histogram(
            "flowhq_send_seconds", "Messenger calls", buckets=STEP_BUCKETS, **reg
        )
        self.outbox_pending = gauge(
            "flowhq_outbox_pending", "Replies owed at the last redelivery pass", **latest
        )
        self.redelivered = counter("flowhq_redelivered", "Replies sent by redelivery", **reg)
        self.queue_pending = gauge(
            "flowhq_queue_pending", "Updates waiting in the queue", ["shard"], **latest
        )
        self.queue_oldest = gauge(
            "flowhq_queue_oldest_seconds", "Age of the oldest waiting update", ["shard"], **latest
        )
        self.timers_due = gauge(
            "flowhq_timers_due", "Conversations with timers due at the last pass", **latest
        )
        self.timer_lag = histogram(
            "flowhq_timer_lag_seconds", "Due time to firing", ["flow"], buckets=LAG_BUCKETS, **reg
        )
        self.paused = gauge(
            "flowhq_conversations_paused", "Conversations handed to a human", **latest
        )

    def __repr__(self) -> str:
        return f"PrometheusMetrics(multiprocess={self.multiprocess})"

    @property
    def multiprocess(self) -> bool:
        """Whether prometheus-client's multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR``)."""
        return bool(os.environ.get(MULTIPROC_ENV))

    def attach(self, hq: _Attachable) -> PrometheusMetrics:
        """Observe ``hq`` from now on (a ``Headquarters``); returns ``self``."""
        if self not in hq.observers:
            hq.observers.append(self)
        return self

    def set_paused(self, count: int) -> None:
        """Set the number of conversations paused (handed to a human) right now."""
        self.paused.set(count)

    def observe(self, event: Event) -> None:
        """Count ``event`` (see the module docs for which metric each feeds)."""
        match event:
            case StepDone():
                self._step(event)
            case Handled(flow=flow, outcome=outcome):
                self.messages.labels(flow or NONE, outcome).inc()
            case Conflict(flow=flow):
                self.conflicts.labels(flow or NONE).inc()
            case Sent():
                self.sends.labels(event.result, self._code(event.code)).inc()
                self.send_seconds.observe(event.seconds)
            case Redelivered(sent=sent, pending=pending):
                self.redelivered.inc(sent)
                self.outbox_pending.set(pending)
            case QueueDepth(shard=shard, pending=pending, oldest=oldest):
                self.queue_pending.labels(str(shard)).set(pending)
                self.queue_oldest.labels(str(shard)).set(oldest)
            case TimersDue(count=count):
                self.timers_due.set(count)
            case TimerFired(flow=flow, lag=lag):
                self.timer_lag.labels(flow or NONE).observe(max(0.0, lag))
            case Paused(count=count):
                self.paused.set(count)

    def _step(self, event: StepDone) -> None:
        flow = event.flow or NONE
        self.steps.labels(flow).inc()
        self.step_seconds.labels(flow).observe(event.seconds)
        for state in event.entered:
            self.entries.labels(flow, state).inc()
        if event.final is not None:
            self.finishes.labels(flow, event.final).inc()

    def _code(self, code: int | None) -> str:
        if code is None:
            return NONE
        label = str(int(code))
        if label in self._codes:
            return label
        if len(self._codes) >= MAX_CODES:
            return "other"
        self._codes.add(label)
        return label

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition of every metric and its content type (what ``/metrics`` answers).

        In multiprocess mode it merges the values every process wrote to the directory.

        Args:
            accept: The scraper's ``Accept`` header (OpenMetrics when it asks for it).
        """
        prometheus = _prometheus()
        registry = self.registry
        if self.multiprocess:
            from prometheus_client import multiprocess  # noqa: PLC0415 - only in that mode

            registry = prometheus.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        from prometheus_client.exposition import choose_encoder  # noqa: PLC0415

        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type

    def samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        """Every sample of this process as ``(name, labels, value)`` (for tests and checks)."""
        for family in self.registry.collect():
            for sample in family.samples:
                yield sample.name, dict(sample.labels), sample.value

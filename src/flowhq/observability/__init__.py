"""Observability: the observer seam, Prometheus metrics, OpenTelemetry traces, log context.

- :mod:`~flowhq.observability.events`: what a ``Headquarters`` reports to its
  ``observers`` (steps, conflicts, sends, the queue, timers).
- :class:`PrometheusMetrics` (extra ``[metrics]``): those events as metrics;
  ``webhook_app(..., metrics=True)`` serves them at ``/metrics``.
- :mod:`~flowhq.observability.tracing` (extra ``[otel]``): one trace per update, from the
  webhook's POST through the queue to the step and the sends.
- :mod:`~flowhq.observability.logs`: flow, state and the hashed conversation on every log
  record about a conversation.

This room sits low (docs/architecture.md): the runtime, the inbox and the channels report
through it, and it imports none of them. docs/operations.md is the operator's guide.
"""

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
from flowhq.observability.hashing import hashed
from flowhq.observability.logs import ConversationFilter
from flowhq.observability.metrics import PrometheusMetrics

__all__ = [
    "Conflict",
    "ConversationFilter",
    "Event",
    "Handled",
    "Observer",
    "Paused",
    "PrometheusMetrics",
    "QueueDepth",
    "Redelivered",
    "Sent",
    "StepDone",
    "TimerFired",
    "TimersDue",
    "hashed",
]

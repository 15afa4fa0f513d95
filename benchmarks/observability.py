"""What metrics and traces cost per message: the signup flow on MemoryStore, one at a time.

Modes: ``off`` (no observer, OpenTelemetry treated as not installed), ``metrics``
(``PrometheusMetrics`` observing), ``otel api`` (the API installed, no SDK: non-recording
spans), ``traces`` (the SDK recording every span, exported in batches to an exporter that
drops them) and ``metrics + traces``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from benchmarks.flows import signup_text
from benchmarks.harness import Problems
from examples.signup import Signup
from flowhq import ConversationKey, Headquarters, InboundMessage, MemoryStore, RecordingMessenger
from flowhq.observability import PrometheusMetrics, tracing
from flowhq.testing import no_api

MODES = ("off", "metrics", "otel api", "traces", "metrics + traces")


class _Dropped(SpanExporter):
    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


@contextlib.contextmanager
def _tracing(mode: str) -> Iterator[_Dropped | None]:
    """Tracing as ``mode`` has it, restored afterwards."""
    saved: dict[str, Any] = {name: getattr(tracing, name) for name in ("trace", "ENABLED")}
    saved_tracer = tracing._tracer
    exporter = provider = None
    try:
        if mode in ("off", "metrics"):
            tracing.trace = None  # as if opentelemetry-api were not installed
            tracing.ENABLED = False
        elif "traces" in mode:
            # As if the application had set this provider (the global one can be set once).
            exporter = _Dropped()
            provider = TracerProvider()
            provider.add_span_processor(BatchSpanProcessor(exporter))
            tracer = provider.get_tracer("flowhq")
            tracing._tracer = lambda: tracer
        yield exporter
    finally:
        if provider is not None:
            provider.shutdown()  # exports what the batch still holds
        for name, value in saved.items():
            setattr(tracing, name, value)
        tracing._tracer = saved_tracer  # type: ignore[method-assign]


async def cost(mode: str, *, conversations: int, messages: int, problems: Problems) -> float:
    """µs per signup message in ``mode`` (see the module docs)."""
    api = no_api()
    observers = [PrometheusMetrics()] if "metrics" in mode else []
    hq = Headquarters(
        flows=[Signup],
        store=MemoryStore(),
        api=api,
        messenger=RecordingMessenger(),
        observers=observers,
    )
    with _tracing(mode) as exporter:
        started = time.perf_counter()
        for conversation in range(conversations):
            for step in range(messages):
                inbound = InboundMessage(
                    "whatsapp", f"+{conversation}", f"m{step}", signup_text(step)
                )
                await hq.handle(inbound)
        elapsed = time.perf_counter() - started
    revisions = {
        (await hq.store.load(ConversationKey("whatsapp", f"+{c}"))).revision
        for c in range(conversations)
    }
    problems.expect(f"observability {mode}: applied messages", revisions, {messages})
    if exporter is not None and exporter.spans < conversations * messages:
        problems.found.append(f"observability {mode}: only {exporter.spans} spans exported")
    await api.aclose()
    return elapsed / (conversations * messages) * 1e6

"""Spans of one test, kept in memory by the OpenTelemetry SDK.

flowhq's spans go to a provider of the test's own instead of the global one, which a
process can set only once and which would then record spans for every later test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowhq.observability import tracing


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The finished spans of this test (the SDK's in-memory exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("flowhq")
    monkeypatch.setattr(tracing, "_tracer", lambda: tracer)
    yield exporter
    provider.shutdown()

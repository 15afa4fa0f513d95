"""One OpenTelemetry SDK provider for the session, its spans kept in memory.

The global tracer provider can be set once per process; tests clear the exporter instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class _Collecting(InMemorySpanExporter):
    """Keeps spans only while a test asks for them: the provider outlives the test."""

    collecting = False

    def export(self, spans: Any) -> SpanExportResult:
        if not self.collecting:
            return SpanExportResult.SUCCESS
        return super().export(spans)


_EXPORTER = _Collecting()


_INSTALLED: list[TracerProvider] = []


def _install() -> None:
    """Export to ``_EXPORTER`` from the SDK provider (made here unless docs/ set one)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if provider not in _INSTALLED:
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        _INSTALLED.append(provider)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The finished spans of this test (an in-memory exporter on the SDK's provider)."""
    _install()
    _EXPORTER.clear()
    _EXPORTER.collecting = True
    yield _EXPORTER
    _EXPORTER.collecting = False
    _EXPORTER.clear()

"""One OpenTelemetry SDK provider for the session, its spans kept in memory.

The global tracer provider can be set once per process; tests clear the exporter instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_EXPORTER = InMemorySpanExporter()


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
    yield _EXPORTER
    _EXPORTER.clear()

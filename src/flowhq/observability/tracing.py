"""OpenTelemetry spans for the message cycle (extra ``[otel]``); nothing without it.

One trace per update: ``whatsapp.receive`` (the webhook's POST) -> ``flowhq.queue`` (the
worker taking it) -> ``flowhq.step`` (load, step, commit, send) -> ``whatsapp.send``; an
``ApiCall``'s request is a ``flowhq.api`` span whose ``traceparent`` header reaches the
backend. The context rides in the queue entry (``InboundMessage.traceparent``), so the
worker's spans join the POST's trace even in another process.

Without ``opentelemetry-api`` installed every helper here returns a shared no-op at the
cost of one ``if``; with the API but no SDK (no tracer provider set) at the cost of looking
the provider up. Once the application sets one, spans go to it. Attributes carry names,
counts and codes; a conversation appears only as
:func:`~flowhq.observability.hashing.hashed`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import Any

try:  # an optional extra: everything below is a no-op without it
    from opentelemetry import propagate, trace
except ImportError:  # pragma: no cover - the extra is installed in tests
    trace = None  # type: ignore[assignment]
    propagate = None  # type: ignore[assignment]

__all__ = [
    "ENABLED",
    "TRACEPARENT",
    "active",
    "annotate",
    "inject",
    "recording",
    "set_attributes",
    "span",
    "traceparent",
]

ENABLED = trace is not None
"""Whether ``opentelemetry-api`` is installed (see :func:`active` for whether spans are made)."""

TRACEPARENT = "traceparent"
"""The W3C trace-context header that carries a trace across processes."""

Attributes = Mapping[str, str | int | float | bool]

_NOTHING = contextlib.nullcontext(None)


def _tracer() -> Any:
    """The tracer of flowhq, or ``None`` while no tracer provider is set (nothing records).

    Looked up per span: the application may set its provider after import.
    """
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return _tracer_of(provider)


@functools.lru_cache(maxsize=4)
def _tracer_of(provider: Any) -> Any:
    return provider.get_tracer("flowhq")


def active() -> bool:
    """Whether spans are made: OpenTelemetry is installed and a tracer provider is set."""
    return _tracer() is not None


def span(
    name: str, attributes: Attributes | None = None, *, parent: str | None = None
) -> contextlib.AbstractContextManager[Any]:
    """A span named ``name``, current while the block runs (a no-op without OpenTelemetry).

    Args:
        name: The span's name (``flowhq.step``).
        attributes: Its attributes: names, counts, codes; never identifiers or texts.
        parent: A ``traceparent`` to continue (the queue entry's); default: the current
            span, if any.

    Returns:
        A context manager yielding the span (``None`` without OpenTelemetry).
    """
    tracer = _tracer()
    if tracer is None:
        return _NOTHING
    context = propagate.extract({TRACEPARENT: parent}) if parent else None
    return _span(tracer, name, attributes, context)


@contextlib.contextmanager
def _span(tracer: Any, name: str, attributes: Attributes | None, context: Any) -> Iterator[Any]:
    with tracer.start_as_current_span(
        name, context=context, attributes=dict(attributes or {})
    ) as current:
        yield current


def traceparent() -> str | None:
    """The current span's ``traceparent`` (``None``: no OpenTelemetry, or no span)."""
    if trace is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` with the current trace context added (the same object when none)."""
    if trace is None:
        return headers
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {**headers, **carrier} if carrier else headers


def set_attributes(current: Any, attributes: Attributes) -> None:
    """Set ``attributes`` on ``current`` (a span from :func:`span`; ``None`` is ignored)."""
    if current is not None and current.is_recording():
        current.set_attributes(dict(attributes))


def recording() -> bool:
    """Whether the current span records (OpenTelemetry installed, an SDK, a sampled trace)."""
    return trace is not None and trace.get_current_span().is_recording()


def annotate(attributes: Attributes) -> None:
    """Set ``attributes`` on the current span, if one is recording."""
    if trace is not None:
        set_attributes(trace.get_current_span(), attributes)

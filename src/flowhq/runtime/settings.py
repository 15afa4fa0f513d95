"""Grouped settings of a ``Headquarters``, in the manner of httpx's ``Timeout``/``Limits``.

Each group is a frozen value; pass the ones you change::

    Headquarters(flows=[Signup], store=store,
                 api=ApiOptions(client, timeout=3.0, retries=1),
                 limits=Limits(max_text=1000))
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from attrs import evolve, field, frozen
from attrs.validators import ge, gt, optional

__all__ = [
    "ApiOptions",
    "Clock",
    "DeliveryOptions",
    "Limits",
    "TimerOptions",
    "system_clock",
    "upgrade",
]

Clock = Callable[[], datetime]
"""What tells a Headquarters the time: a zero-argument callable returning an aware UTC
``datetime`` (tests pass a fake one that they move forward)."""


def system_clock() -> datetime:
    """The system's time, in UTC."""
    return datetime.now(UTC)


@frozen
class ApiOptions:
    """How ``ApiCall`` and ``make_api_request`` talk to your APIs.

    Attributes:
        client: The httpx client requests go through (its ``base_url``, auth, limits).
        timeout: Seconds per attempt (``None``: the client's own; ``ApiCall(timeout=...)``
            overrides per state).
        retries: Extra attempts after a timeout, a connection error or a 5xx answer.
        backoff: Seconds before the first retry (doubled each time, with jitter).
    """

    client: httpx.AsyncClient | None = None
    timeout: float | None = field(default=None, validator=optional(gt(0)))
    retries: int = field(default=2, validator=ge(0))
    backoff: float = field(default=0.2, validator=ge(0))


@frozen
class DeliveryOptions:
    """When committed replies that did not go out are sent again.

    Attributes:
        redelivery_after: Seconds after which a committed reply still not marked delivered
            counts as lost (its sender crashed) and is sent by the next handling of the
            conversation or by ``redeliver()``. Younger ones are left to the process
            sending them, so two processes never both send a reply in normal operation.
        duplicate_grace: Seconds a retried message (a duplicate whose replies are still
            pending) leaves their original sender before sending them itself.
    """

    redelivery_after: float = field(default=30.0, validator=ge(0))
    duplicate_grace: float = field(default=2.0, validator=ge(0))


@frozen
class TimerOptions:
    """How due timers are fired (docs/time.md).

    Attributes:
        lease: Seconds a process holds the conversations it claimed; if it dies, others
            claim them again after this (a firing is never lost, never doubled).
        batch: Conversations claimed per pass.
        concurrency: Conversations fired at once by one process.
        interval: Seconds between passes of ``run_timers`` when nothing more is due.
    """

    lease: float = field(default=30.0, validator=gt(0))
    batch: int = field(default=200, validator=ge(1))
    concurrency: int = field(default=50, validator=ge(1))
    interval: float = field(default=0.25, validator=gt(0))


@frozen
class Limits:
    """Bounds that keep one conversation from costing too much.

    Attributes:
        max_steps: Transitions per message, to stop loops (``StepLimitError``).
        max_text: Longest accepted inbound text; longer ones are refused with a reply.
        max_attempts: Commit attempts before ``ConflictError``.
        dedup_window: Seconds a message id is remembered, so a delivery the channel retries
            is processed once (Meta retries for 7 days); a message older than this is
            refused.
        dedup_limit: Ids remembered per conversation at most; past it, the oldest make way
            and a message from before them counts as seen.
    """

    max_steps: int = field(default=100, validator=ge(1))
    max_text: int = field(default=4096, validator=ge(1))
    max_attempts: int = field(default=20, validator=ge(1))
    dedup_window: float = field(default=7 * 24 * 3600.0, validator=gt(0))
    dedup_limit: int = field(default=10_000, validator=ge(64))


# The flat keywords of the first release, and the settings group each now belongs to.
_DEPRECATED = {
    "max_steps": ("limits", "max_steps"),
    "max_text": ("limits", "max_text"),
    "max_attempts": ("limits", "max_attempts"),
    "redelivery_after": ("delivery", "redelivery_after"),
    "duplicate_grace": ("delivery", "duplicate_grace"),
    "api_timeout": ("api", "timeout"),
    "api_retries": ("api", "retries"),
    "api_backoff": ("api", "backoff"),
}


def upgrade(
    deprecated: Mapping[str, Any], limits: Limits, delivery: DeliveryOptions, api: ApiOptions
) -> tuple[Limits, DeliveryOptions, ApiOptions]:
    """Fold the 0.1 flat keywords into their settings groups, warning once per call."""
    unknown = sorted(set(deprecated) - set(_DEPRECATED))
    if unknown:
        raise TypeError(f"Headquarters() got unexpected keyword arguments {unknown}")
    if not deprecated:
        return limits, delivery, api
    groups: dict[str, Any] = {"limits": limits, "delivery": delivery, "api": api}
    hints = []
    for name, value in deprecated.items():
        group, attribute = _DEPRECATED[name]
        groups[group] = evolve(groups[group], **{attribute: value})
        hints.append(f"{name}= -> {group}={type(groups[group]).__name__}({attribute}=...)")
    warnings.warn(
        "flat Headquarters keywords are deprecated: " + "; ".join(hints),
        DeprecationWarning,
        stacklevel=3,
    )
    return groups["limits"], groups["delivery"], groups["api"]

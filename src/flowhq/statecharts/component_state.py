"""The chart-side declaration of a component state.

A component state is a python-statemachine ``State`` that also declares what component it
wraps: its kind, the results it can finish with, whether it waits for user input, the
templates it shows and the values it saves. Behaviour (sending, validating, calling APIs)
lives in :mod:`flowhq.components`; this module stays pure so the checker and the diagrams
can read a flow without running anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from attrs import frozen
from statemachine import State

__all__ = ["ComponentState", "TimerSpec", "format_delay", "seconds"]


@frozen
class TimerSpec:
    """A timer a component state arms on each fresh visit (see docs/time.md).

    Attributes:
        kind: ``"timeout"`` (finish with ``timeout``), ``"reminder"`` (send ``text`` once)
            or ``"wait"`` (finish with ``done``).
        delay: Seconds after the state was entered.
        text: The reminder's template (a ``flowhq.statecharts.templates.Template``).
        result: The result the timer finishes the component with (``None``: a reminder).
    """

    kind: str
    delay: float
    text: Any = None
    result: str | None = None


def seconds(value: timedelta | float, what: str) -> float:
    """``value`` (a ``timedelta`` or seconds) in seconds.

    Raises:
        ValueError: not a positive duration.
    """
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{what} must be a positive timedelta or number of seconds, not {value!r}")
    return float(value)


def format_delay(delay: float) -> str:
    """A delay the way a person writes it: ``90`` -> ``1m30s``, ``82800`` -> ``23h``."""
    rest = round(delay)
    if rest < 1:
        return f"{delay:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


class ComponentState(State):
    """A state that wraps one component.

    Subclasses set ``kind`` and ``accepts_input`` and pass their ``results``.

    Args:
        results: The results the component can finish with; each is an event of the flow.
        initial: Whether this is the flow's (or its compound's) initial state.
        final: Whether reaching this state finishes the flow.
        name: Human-readable name; defaults to one derived from the attribute name.
    """

    kind: ClassVar[str] = "Component"
    accepts_input: ClassVar[bool] = False
    pauses: ClassVar[bool] = False
    """Entering the state pauses the bot for the conversation (a ``Handoff``)."""

    def __init__(
        self,
        *,
        results: Sequence[str],
        initial: bool = False,
        final: bool = False,
        name: str = "",
    ) -> None:
        super().__init__(name=name, initial=initial, final=final)
        self.results: tuple[str, ...] = tuple(results)
        self.definition_problems: list[str] = []
        """Problems found while constructing (e.g. a bad template); reported by the checker."""
        self.timers: tuple[TimerSpec, ...] = ()
        """The timers each fresh visit arms (a timeout, reminders, a wait)."""

    def describe(self) -> str:
        """A short, secret-free description for diagrams and reports."""
        return self.kind

    @property
    def outcomes(self) -> tuple[tuple[str, ...], ...]:
        """Each way the component can finish, as the results that may carry it, in order.

        Usually one result per outcome. A ``Choice`` finishes an option with the option's
        own result when a transition handles it, else with ``chosen``: either handles it.
        """
        return tuple((result,) for result in self.results)

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholder names used by this component's message texts."""
        return ()

    @property
    def saves(self) -> frozenset[str]:
        """The value names this component saves (for templates and guards)."""
        return frozenset()

    def flow_problems(self, flow_cls: Any) -> list[str]:
        """Problems of this component in ``flow_cls`` alone (its flow-wide settings)."""
        return []

    def bind(self, flow_cls: Any) -> None:
        """Called once the flow class is built (components read flow-wide settings here)."""

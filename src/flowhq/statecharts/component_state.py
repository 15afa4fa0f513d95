"""The chart-side declaration of a component state.

A component state is a python-statemachine ``State`` that also declares what component it
wraps: its kind, the results it can finish with, whether it waits for user input, the
templates it shows and the values it saves. Behaviour (sending, validating, calling APIs)
lives in :mod:`flowhq.components`; this module stays pure so the checker and the diagrams
can read a flow without running anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from statemachine import State

__all__ = ["ComponentState"]


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

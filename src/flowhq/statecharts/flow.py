"""The ``Flow`` base class: a python-statemachine ``StateChart`` of component states."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from statemachine import StateChart
from statemachine.exceptions import InvalidDefinition
from statemachine.factory import StateMachineMetaclass

from flowhq.errors import FlowDefinitionError
from flowhq.statecharts.checks import find_problems

__all__ = ["Flow", "check_flow", "snake_case"]


def snake_case(name: str) -> str:
    """``SupportMenu`` -> ``support_menu``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z][a-z])", r"_\1\2", name).lower()


class FlowMeta(StateMachineMetaclass):
    """Builds the chart, then runs flowhq's checks; problems raise ``FlowDefinitionError``."""

    # flowhq's own checks cover these (with messages that name states and results), and
    # report every problem at once instead of stopping at the first.
    validate_disconnected_states = False
    validate_trap_states = False
    validate_final_reachability = False

    def __init__(cls, classname: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> None:
        declared = attrs.get("name")
        try:
            super().__init__(classname, bases, attrs)  # type: ignore[arg-type]
        except InvalidDefinition as exc:
            raise FlowDefinitionError(classname, [str(exc)]) from None
        # python-statemachine sets ``name`` to the class name; flowhq's is the stored flow id.
        cls.name = declared if isinstance(declared, str) else snake_case(classname)
        if cls._abstract:
            return
        problems = find_problems(cls)
        if problems:
            raise FlowDefinitionError(classname, problems)


class Flow(StateChart[Any], metaclass=FlowMeta):
    """A conversation flow: subclass it and declare component states and transitions.

    Class attributes:
        name: Stable id of the flow, stored in conversations (default: snake_case class name).
        commands: Keyword -> event; typing the keyword fires the event wherever it is enabled.
        migrations: Old state id -> new state id, applied to stored conversations whose saved
            configuration names states this class no longer has.
    """

    name: str
    commands: ClassVar[dict[str, str]] = {}
    migrations: ClassVar[dict[str, str]] = {}

    # Unhandled results are bugs the checker rejects; at run time they must fail loudly.
    allow_event_without_transition = False
    # Errors in guards and callbacks go to flowhq's ErrorHandler, not to an internal event.
    catch_errors_as_events = False
    # A self-transition re-enters its component: ``retry = call.to.itself()`` calls again.
    enable_self_transition_entries = True


def check_flow(flow_cls: type[Flow]) -> list[str]:
    """Return the structural problems of ``flow_cls`` (empty when it is sound).

    The same checks run when the class is created, so a class that exists normally has none;
    this is for reports and for flows built with checks bypassed.
    """
    return find_problems(flow_cls)

"""The ``Flow`` base class: a python-statemachine ``StateChart`` of component states."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from statemachine import HistoryState as _HistoryState
from statemachine import State, StateChart
from statemachine.exceptions import InvalidDefinition
from statemachine.factory import StateMachineMetaclass
from statemachine.transition_list import TransitionList

from flowhq.errors import FlowDefinitionError
from flowhq.statecharts.checks import find_problems
from flowhq.statecharts.compiled import unsupported
from flowhq.statecharts.model import all_states

__all__ = [
    "Flow",
    "HistoryState",
    "check_flow",
    "checks_deferred",
    "snake_case",
]

_DEFERRED: contextvars.ContextVar[bool] = contextvars.ContextVar("flowhq_checks", default=False)


def snake_case(name: str) -> str:
    """``SupportMenu`` -> ``support_menu``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z][a-z])", r"_\1\2", name).lower()


class HistoryState(_HistoryState):
    """Return to the exact step the user left, at any depth (deep history by default).

    ``resume = HistoryState()`` inside a compound state, with a default for the first
    visit (``resume.to(first_step)``). After a detour (``help``), a transition to it brings
    the user back to the very question they were answering, inside nested sections too,
    with its attempt counter as it was. ``HistoryState(deep=False)`` is shallow history:
    it remembers only the compound's direct child, which restarts at its initial state.

    Args:
        name: Human-readable name.
        deep: Remember the exact nested step (default) or only the direct child.
    """

    def __init__(self, name: str = "", *, deep: bool = True) -> None:
        super().__init__(name=name, type="deep" if deep else "shallow")


@contextmanager
def checks_deferred() -> Iterator[None]:
    """Create flow classes without raising on their problems (for drawing broken flows).

    Each class created meanwhile keeps its problems in ``__flowhq_problems__``. Used by
    ``flowhq diagram``, which draws unhandled results as red dangling edges instead of
    refusing the flow.
    """
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


_FLOW_ATTRIBUTES = frozenset(
    {
        "name",
        "name_declared",
        "commands",
        "migrations",
        "yes_words",
        "no_words",
        "restart_text",
        "stale_button_text",
        "start_data",
        "locale",
    }
)


def _reserved_names(attrs: dict[str, Any]) -> list[str]:
    """States and events named like an attribute of every flow would replace it."""
    reserved = _FLOW_ATTRIBUTES | {name for name in dir(StateChart) if not name.startswith("_")}
    problems = []
    for key, value in attrs.items():
        if key in reserved and isinstance(value, State | TransitionList):
            kind = "state" if isinstance(value, State) else "event"
            problems.append(
                f"{kind} {key!r} is named like an attribute every flow has ({key!r} of Flow); "
                f"choose another name, e.g. {key + '_'!r} or 'ask_{key}'"
            )
    return problems


class FlowMeta(StateMachineMetaclass):
    """Builds the chart, then runs flowhq's checks; problems raise ``FlowDefinitionError``."""

    # flowhq's own checks cover these (with messages that name states and results), and
    # report every problem at once instead of stopping at the first.
    validate_disconnected_states = False
    validate_trap_states = False
    validate_final_reachability = False

    def __init__(cls, classname: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> None:
        declared = attrs.get("name")
        clashes = _reserved_names(attrs)
        if clashes:
            raise FlowDefinitionError(classname, clashes)
        try:
            super().__init__(classname, bases, attrs)  # type: ignore[arg-type]
        except InvalidDefinition as exc:
            raise FlowDefinitionError(classname, [str(exc)]) from None
        # python-statemachine sets ``name`` to the class name; flowhq's is the stored flow id.
        cls.name = declared if isinstance(declared, str) else snake_case(classname)
        cls.name_declared = isinstance(declared, str)  # a subclass gets its own class's name
        if cls._abstract:
            return
        for state in all_states(cls):
            bind = getattr(state, "bind", None)
            if bind is not None:
                bind(cls)
        problems = _problems(cls)
        cls.__flowhq_problems__ = problems
        if problems and not _DEFERRED.get():
            raise FlowDefinitionError(classname, problems)


class Flow(StateChart[Any], metaclass=FlowMeta):
    """A conversation flow: subclass it and declare component states and transitions.

    Flows keep no data of their own: everything a conversation knows lives in its stored
    document, reached through the StateManager. Methods of a flow are guards (synchronous,
    reading their keyword arguments); instance attributes are not kept between messages.

    Class attributes:
        name: Stable id of the flow, stored in conversations (default: snake_case class name;
            set it explicitly so renaming the class keeps conversations where they are).
        commands: Keyword -> event; typing the keyword fires the event wherever it is enabled.
        migrations: Old state id -> new state id, applied to stored conversations whose
            saved position no longer exists after a deploy (a renamed or moved state).
        yes_words / no_words: What ``Confirm`` states take as yes and no (default English
            words and 👍/👎); set them for another language.
        restart_text: Sent when a stored conversation cannot continue after a deploy and
            the flow starts over.
        stale_button_text: Sent when the user taps a button of an earlier question.
        start_data: Names of the values ``Headquarters.start(..., data=...)`` gives the
            flow (its templates and guards may use them).
        locale: The language the flow's texts are written in and a conversation gets when
            nothing else says (default ``"en"``; docs/i18n.md).
    """

    name: str
    name_declared: ClassVar[bool] = False
    commands: ClassVar[dict[str, str]] = {}
    migrations: ClassVar[dict[str, str]] = {}
    yes_words: ClassVar[Iterable[str] | None] = None
    no_words: ClassVar[Iterable[str] | None] = None
    restart_text: ClassVar[str] = (
        "Sorry, this conversation was updated while we were talking. Let's start again."
    )
    stale_button_text: ClassVar[str] = "That button belongs to an earlier question."
    start_data: ClassVar[tuple[str, ...]] = ()
    locale: ClassVar[str] = "en"
    __flowhq_problems__: ClassVar[list[str]] = []

    # Unhandled results are bugs the checker rejects; at run time they must fail loudly.
    allow_event_without_transition = False
    # Errors in guards go to flowhq's ErrorHandler, not to an internal event.
    catch_errors_as_events = False
    # A self-transition re-enters its component: ``retry = call.to.itself()`` calls again.
    enable_self_transition_entries = True


def check_flow(flow_cls: type[Flow]) -> list[str]:
    """Return the structural problems of ``flow_cls`` (empty when it is sound).

    The same checks run when the class is created, so a class that exists normally has none;
    this is for reports and for flows built under :func:`checks_deferred`.
    """
    return _problems(flow_cls)


def _problems(flow_cls: Any) -> list[str]:
    """Flowhq's checks, then what the compiled runtime does not run (its one list)."""
    problems = find_problems(flow_cls)
    return problems + unsupported(flow_cls, build=not problems)

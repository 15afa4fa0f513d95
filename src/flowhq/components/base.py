"""The component protocol and the base class of the built-in components."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import ClassVar, Protocol, runtime_checkable

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager
from flowhq.statecharts.component_state import ComponentState, TimerSpec, seconds
from flowhq.statecharts.templates import Template, TemplateError

__all__ = ["Component", "ComponentBase", "Delay", "Reminders"]

Delay = timedelta | float
"""A duration: a ``timedelta`` or a number of seconds."""

Reminders = Iterable[tuple[Delay, str]]
"""``(delay, text)`` pairs: each text goes out once, ``delay`` after the question."""


@runtime_checkable
class Component(Protocol):
    """What Headquarters calls on a component state.

    ``begin`` runs when the state is entered: it returns a result to finish at once, or
    ``None`` to wait for input. ``handle`` receives the user's message while the component
    waits; it returns a result, or ``None`` to keep waiting (for example after re-asking).
    ``reprompt`` sends the waiting question again (after a tap on an old button, a detour
    through help, or a request for more options).
    """

    role: ClassVar[Role]
    results: tuple[str, ...]

    async def begin(self, state_manager: StateManager) -> str | None:
        """Run the component's entry."""
        ...

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Handle the user's message while waiting."""
        ...

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Send the waiting question again, after ``prefix`` (why it is asked again)."""
        ...


class ComponentBase(ComponentState):
    """Shared plumbing of the built-in components: templates and the default behaviour."""

    role: ClassVar[Role] = Role.DISPLAY
    save_as: str | None = None

    def __init__(
        self,
        text: str,
        *,
        results: Sequence[str],
        initial: bool = False,
        final: bool = False,
    ) -> None:
        super().__init__(results=results, initial=initial, final=final)
        self.text = self._template(text)

    def _template(self, text: str) -> Template:
        try:
            return Template(text)
        except TemplateError as exc:
            self.definition_problems.append(str(exc))
            return Template(text.replace("{", "{{").replace("}", "}}"))

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholder names used by this component's text and its reminders."""
        return (*self.text.fields, *self.timer_fields)

    @property
    def timer_fields(self) -> tuple[str, ...]:
        """Placeholder names of the reminders' texts."""
        return tuple(name for spec in self.timers if spec.text for name in spec.text.fields)

    def _set_timers(self, timeout: Delay | None, reminders: Reminders) -> None:
        """Arm ``timeout`` (adds the result ``timeout``) and ``reminders`` on each visit."""
        specs: list[TimerSpec] = []
        if timeout is not None:
            try:
                specs.append(TimerSpec("timeout", seconds(timeout, "timeout"), result="timeout"))
            except ValueError as exc:
                self.definition_problems.append(str(exc))
            else:
                self.results = (*self.results, "timeout")
        for number, reminder in enumerate(reminders, start=1):
            try:
                delay, text = reminder
                specs.append(
                    TimerSpec(
                        "reminder", seconds(delay, f"reminder {number}"), self._template(text)
                    )
                )
            except (TypeError, ValueError) as exc:
                self.definition_problems.append(f"reminder {number}: {exc}")
        limit = next((spec.delay for spec in specs if spec.kind == "timeout"), None)
        if limit is not None and any(
            spec.kind == "reminder" and spec.delay >= limit for spec in specs
        ):
            self.definition_problems.append("a reminder due at or after the timeout never goes out")
        self.timers = tuple(specs)

    def describe(self) -> str:
        """Kind and text as written (never filled with stored values)."""
        return f"{self.kind}: {self.text.text}"

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the text; subclasses decide whether to finish."""
        state_manager.messaging.send(self.text.render(state_manager.values()))
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Components that do not take input ignore messages."""
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Components that ask nothing have nothing to repeat."""


class AnswerComponent(ComponentBase):
    """A question whose answer is saved under the state's own name, or under ``save_as``."""

    accepts_input = True
    role: ClassVar[Role] = Role.INPUT

    def __init__(
        self, text: str, *, results: Sequence[str], save_as: str | None, initial: bool
    ) -> None:
        super().__init__(text, results=results, initial=initial)
        self.save_as = save_as
        if save_as is not None and not save_as.isidentifier():
            self.definition_problems.append(f"save_as={save_as!r} is not a plain name")

    @property
    def saved_name(self) -> str:
        """The name the answer is saved under: ``save_as``, else the state's id."""
        return self.save_as or self.id

    @property
    def saves(self) -> frozenset[str]:
        """The one name this question saves."""
        return frozenset({self.saved_name})

"""``Component``: the public base of every component, built-in or your own."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from attrs import frozen

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager
from flowhq.statecharts.component_state import ComponentState, TimerSpec, seconds
from flowhq.statecharts.templates import Template, TemplateError

__all__ = ["Component", "ComponentBase", "Delay", "Example", "Reminders"]

logger = logging.getLogger("flowhq.components")

Delay = timedelta | float
"""A duration: a ``timedelta`` or a number of seconds."""

Reminders = Iterable[tuple[Delay, str]]
"""``(delay, text)`` pairs: each text goes out once, ``delay`` after the question."""


@frozen
class Example:
    """An input worth sending to a waiting component, and the result it yields.

    The path generator (``flowhq.testing.paths``, ``flowhq check --paths``) sends each
    example's ``text`` to the component where the conversation waits on it.

    Attributes:
        text: What the user types (or the id of the button or row they press).
        result: The result it finishes with, or ``None`` when the component stays waiting
            (a re-ask) or the result depends on the conversation.
    """

    text: str
    result: str | None = None


class Component(ComponentState):
    """The base of every component: the built-ins and your own (docs/components.md).

    A component is the behaviour of one state of a flow. Subclass it and set:

    - ``kind``: the name diagrams and reports show (``"Stars"``);
    - ``accepts_input``: ``True`` when the component waits for the user;
    - ``role``: what it may change (:class:`~flowhq.state.manager.Role`): ``DISPLAY``
      nothing, ``INPUT`` its own data and the values it saves, ``API`` also dashboard and
      action data and API requests, ``CONFIRM`` only validation tracking.

    and implement what it does:

    - :meth:`begin` runs on entry: send the question (``state_manager.messaging.send``)
      and return ``None`` to wait, or return a result to finish at once;
    - :meth:`handle` gets each message while it waits: return a result, or ``None`` to stay
      (after re-asking);
    - :meth:`reprompt` sends the question again (after a tap on an earlier question's
      button, a detour through ``help``, a request for more options);
    - :meth:`examples` gives the path generator inputs to try, with the result each yields.

    Args:
        text: The text it shows, with optional ``{name}`` placeholders (checked when the
            flow class is created: every name must be saved by some state).
        results: Every result it can finish with; the flow must handle each one.
        saves: The names it saves with ``state_manager.save_value`` (templates and guards
            of later states may use them).
        initial: This is the initial state.
        final: Reaching this state finishes the flow.
    """

    role: ClassVar[Role] = Role.DISPLAY
    save_as: str | None = None

    def __init__(
        self,
        text: str = "",
        *,
        results: Sequence[str],
        saves: Iterable[str] = (),
        initial: bool = False,
        final: bool = False,
    ) -> None:
        super().__init__(results=results, initial=initial, final=final)
        self.text = self._template(text)
        self.declared_saves = frozenset(saves)
        bad = sorted(name for name in self.declared_saves if not name.isidentifier())
        if bad:
            self.definition_problems.append(f"saved names must be plain names, got {bad}")

    @property
    def saves(self) -> frozenset[str]:
        """The value names this component saves (``saves=``)."""
        return self.declared_saves

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        """Inputs the path generator sends while this component waits (default: none).

        Called where a generated conversation waits on the component, with a read-only
        ``state_manager`` (its saved values and this component's data), so the examples
        may depend on what earlier states saved (a menu built from live data). A component
        that takes input and gives no example is named by ``flowhq check --paths``: the
        transitions on its results cannot be generated.
        """
        return ()

    def render(
        self,
        state_manager: StateManager,
        template: Template,
        values: Mapping[str, Any] | None = None,
    ) -> str:
        """``template`` in the conversation's language, filled with the saved values.

        The template's text is its own message id: the conversation's catalog gives the
        translation (docs/i18n.md), whose placeholders are filled as the source's would
        be, named formats in the conversation's locale and time zone. A translation that
        cannot be used (a broken placeholder, a name the source lacks) is logged and the
        source text is used.

        Args:
            state_manager: The conversation.
            template: The text to show.
            values: What the placeholders take (default: the saved values, as shown).
        """
        speech = state_manager.speech
        chosen = template
        translated = speech.gettext(template.text) if template.text else template.text
        if translated != template.text:
            try:
                chosen = Template(translated)
            except TemplateError:
                chosen = template
            if not set(chosen.fields) <= set(template.fields):
                chosen = template
            if chosen is template:
                logger.warning("state %s: unusable %s translation; sent the source text",
                               self.id, speech.locale)  # fmt: skip
        shown = state_manager.values() if values is None else values
        return chosen.render(shown, locale=speech.locale, timezone=speech.timezone)

    def _template(self, text: str) -> Template:
        try:
            return Template(text)
        except TemplateError as exc:
            self.definition_problems.append(str(exc))
            return Template(text.replace("{", "{{").replace("}", "}}"))

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholder names used by this component's text, its frame and its reminders."""
        frame = [t for t in (self.header, self.footer) if t is not None]
        return (*self.text.fields, *(n for t in frame for n in t.fields), *self.timer_fields)

    header: Template | None = None
    """A short line above the options of a question (WhatsApp: up to 60 characters)."""
    footer: Template | None = None
    """A short line under the options of a question (WhatsApp: up to 60 characters)."""

    def _set_frame(self, header: str | None, footer: str | None) -> None:
        """Keep the ``header`` and ``footer`` lines of a question with options."""
        self.header = self._template(header) if header else None
        self.footer = self._template(footer) if footer else None

    def frame(self, state_manager: StateManager) -> tuple[str | None, str | None]:
        """The header and footer lines, rendered in the conversation's language."""
        header = self.render(state_manager, self.header) if self.header else None
        footer = self.render(state_manager, self.footer) if self.footer else None
        return header, footer

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
        """Run on entry: send the text (when there is one) and wait.

        Returns:
            A result to finish at once, or ``None`` to wait for input (or for a timer).
        """
        if self.text.text:
            state_manager.messaging.send(self.render(state_manager, self.text))
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Handle the user's message while waiting (default: ignore it and stay).

        Returns:
            A result to finish with, or ``None`` to keep waiting.
        """
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Send the waiting question again after ``prefix`` (default: nothing to repeat).

        Args:
            state_manager: The conversation, as in :meth:`begin`.
            offset: The first option to show, for menus a channel pages.
            prefix: Why it is asked again (a re-ask), sent before the question.
        """


ComponentBase = Component
"""The former name of :class:`Component`, kept for code written against 0.1."""


class AnswerComponent(Component):
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

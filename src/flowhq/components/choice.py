"""``Choice``: pick one option from a menu."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import StateManager
from flowhq.statecharts.checks import handles

from .base import AnswerComponent, Delay, Example, Reminders

__all__ = ["MAX_OPTION_ID", "Choice", "option_result"]

MAX_OPTION_ID = 180
"""Longest option id: WhatsApp list rows take ids of 200 characters, and a question tag
(``~`` and up to 12 characters) rides along with the id."""

_NOT_NAME = re.compile(r"\W", re.ASCII)
_NUMBER = re.compile(r"^\s*([0-9]{1,3})\s*[.)]?\s*$", re.ASCII)


def option_result(option: str) -> str:
    """The result an option finishes with when a transition handles that option alone.

    The option id itself when it is a Python name (``"billing"``); otherwise every character
    other than a letter, digit or underscore becomes ``_``, and a leading digit gets a ``_``
    in front: ``"four-cheese"`` → ``four_cheese``, ``"SKU-12"`` → ``SKU_12``,
    ``"12-inch"`` → ``_12_inch``.
    """
    if option.isidentifier() and option.isascii():
        return option
    name = _NOT_NAME.sub("_", option)
    return f"_{name}" if name[:1].isdigit() else name


class Choice(AnswerComponent):
    """Offer ``options`` (id → title); the user picks one.

    The user may press the option's button or list row, or type its title (any case), its
    number (``2`` or ``2.``) or its id. The option id is saved under the state's name (or
    ``save_as``): guards, ``data[...]`` and API payloads get the id, message templates show
    the title. The result is the option's own result (see :func:`option_result`) when a
    transition handles it, else ``chosen``, so one transition can serve the whole menu::

        pizza = Choice("Which pizza?", options={"margherita": "Margherita",
                                                "four-cheese": "Four cheese"})
        chosen = pizza.to(size)

    Args:
        text: The question, with optional ``{name}`` placeholders.
        options: Option ids (any non-empty string up to 180 characters) mapped to the
            titles shown.
        descriptions: Optional one-line descriptions by option id (shown under list rows).
        save_as: Save under this name instead of the state's own.
        menu_label: Label of the button that opens a long list (WhatsApp: up to 20 chars).
        timeout: No answer this long after the question: the result is ``timeout``.
        reminders: ``(delay, text)`` pairs sent once each while no answer came.
        initial: This is the initial state.
    """

    kind = "Choice"

    def __init__(
        self,
        text: str,
        options: Mapping[str, str],
        *,
        descriptions: Mapping[str, str] | None = None,
        save_as: str | None = None,
        menu_label: str | None = None,
        timeout: Delay | None = None,
        reminders: Reminders = (),
        initial: bool = False,
    ) -> None:
        self.options = dict(options)
        self.results_by_option = {option: option_result(option) for option in self.options}
        super().__init__(
            text, results=(*dict.fromkeys(self.results_by_option.values()), "chosen"),
            save_as=save_as, initial=initial,
        )  # fmt: skip
        self.descriptions = dict(descriptions or {})
        self.menu_label = menu_label
        self._set_timers(timeout, reminders)
        self._check_options()

    def _check_options(self) -> None:
        problems = self.definition_problems
        if not self.options:
            problems.append("a Choice needs at least one option")
        for option, title in self.options.items():
            if not isinstance(option, str) or not option.strip() or len(option) > MAX_OPTION_ID:
                problems.append(
                    f"option id {option!r} must be a non-empty string of at most "
                    f"{MAX_OPTION_ID} characters"
                )
            elif "~" in option or option != option.strip():
                problems.append(f"option id {option!r} may not contain '~' or edge spaces")
            if not isinstance(title, str) or not title.strip():
                problems.append(f"option {option!r} needs a non-empty title")
        results = list(self.results_by_option.values())
        clashes = sorted({r for r in results if results.count(r) > 1})
        if clashes:
            problems.append(f"option ids map to the same result {clashes}; rename one of them")
        unknown = sorted(set(self.descriptions) - set(self.options))
        if unknown:
            problems.append(f"descriptions for unknown options {unknown}")

    @property
    def outcomes(self) -> tuple[tuple[str, ...], ...]:
        """Each option finishes with its own result or with ``chosen``."""
        return tuple((result, "chosen") for result in self.results_by_option.values())

    def describe(self) -> str:
        """Kind, question and the options."""
        options = ", ".join(f"{key}: {title}" for key, title in self.options.items())
        return f"{self.kind}: {self.text.text} [{options}] → {self.saved_name}"

    def match(self, answer: str) -> str | None:
        """Return the option id ``answer`` designates (id, title, number), or ``None``."""
        if answer in self.options:
            return answer
        folded = answer.strip().casefold()
        for option, title in self.options.items():
            if folded in (option.casefold(), title.strip().casefold()):
                return option
        number = _NUMBER.match(answer)
        if number and 1 <= int(number.group(1)) <= len(self.options):
            return list(self.options)[int(number.group(1)) - 1]
        return None

    @functools.cached_property
    def _own_results(self) -> frozenset[str]:
        """Option results some transition handles (the flow's structure never changes)."""
        return frozenset(r for r in self.results_by_option.values() if handles(self, r))

    def result_for(self, option: str) -> str:
        """The result picking ``option`` finishes with: its own when handled, else ``chosen``."""
        result = self.results_by_option[option]
        return result if result in self._own_results else "chosen"

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        """Each option's id, with the result picking it finishes with."""
        return tuple(Example(option, self.result_for(option)) for option in self.options)

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the menu and wait."""
        self.reprompt(state_manager)
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Send the menu again, from option ``offset`` on where the channel pages."""
        state_manager.messaging.send(
            prefix + self.text.render(state_manager.values()),
            buttons=tuple(self.options.items()),
            tag=state_manager.question_tag,
            descriptions=tuple(self.descriptions.get(option) for option in self.options),
            menu_label=self.menu_label,
            offset=offset if 0 <= offset < len(self.options) else 0,
        )

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Save the chosen option and finish; anything else re-sends the menu."""
        answer = inbound.answer
        option = self.match(answer) if answer else None
        if option is None:
            state_manager.record_validation(self.id, success=False, error="not one of the options")
            self.reprompt(state_manager, prefix="Please pick one of the options.\n")
            return None
        state_manager.record_validation(self.id, success=True)
        state_manager.save_value(self.saved_name, option, label=self.options[option])
        return self.result_for(option)

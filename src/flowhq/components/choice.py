"""``Choice``: pick one option from a menu."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowhq.errors import FlowError
from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import StateManager
from flowhq.statecharts.checks import handles

from .base import AnswerComponent, Delay, Example, Reminders

__all__ = ["MAX_OPTION_ID", "Choice", "LiveOptions", "live_options", "option_result"]

MAX_OPTION_ID = 180
"""Longest option id: WhatsApp list rows take ids of 200 characters, and a question tag
(``~`` and up to 12 characters) rides along with the id."""

logger = logging.getLogger("flowhq.components")

PICK_AGAIN = "Please pick one of the options."
"""The re-ask after an answer that designates no option."""

MENU_LABEL = "Choose"
"""The label of the button that opens a list, when the Choice gives none."""

MORE_LABEL = "More…"
"""The row that pages a long list (the channel's default title, translated per locale)."""

LiveOptions = str | Callable[[StateManager], Any]
"""Where a live menu's options come from: the name of a saved value, or a callable of the
state manager returning them (sync); see :func:`live_options` for the shapes."""

Option = tuple[str, str, str | None]

_NOT_NAME = re.compile(r"\W", re.ASCII)
_NUMBER = re.compile(r"^\s*([0-9]{1,3})\s*[.)]?\s*$", re.ASCII)


def live_options(value: Any, *, source: str = "options") -> list[Option]:
    """Options ``(id, title, description)`` from live data.

    ``value`` is a mapping id -> title, or a list of ``{"id", "title", "description"?}``
    mappings (what an API usually answers). Ids and titles are turned into text (an API's
    numeric ids work); an entry with an empty id or title, an id over 180 characters or
    with ``~``, or an id seen before is left out, with a warning.

    Raises:
        FlowError: ``value`` has neither shape (``source`` names where it came from).
    """
    if isinstance(value, Mapping):
        entries: list[tuple[Any, Any, Any]] = [(key, title, None) for key, title in value.items()]
    elif isinstance(value, list | tuple) and all(isinstance(item, Mapping) for item in value):
        entries = [(item.get("id"), item.get("title"), item.get("description")) for item in value]
    else:
        raise FlowError(
            f"options {source}: expected a mapping id -> title or a list of "
            f'{{"id", "title", "description"?}}, got {type(value).__name__}'
        )
    options: list[Option] = []
    seen: set[str] = set()
    for raw_id, raw_title, raw_description in entries:
        option = "" if raw_id is None else str(raw_id).strip()
        title = "" if raw_title is None else str(raw_title).strip()
        if (
            not option
            or not title
            or len(option) > MAX_OPTION_ID
            or "~" in option
            or option in seen
        ):
            logger.warning("options %s: left out an option with a bad or repeated id or title",
                           source)  # fmt: skip
            continue
        seen.add(option)
        description = str(raw_description) if raw_description else None
        options.append((option, title, description))
    return options


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
    """Offer options; the user picks one.

    The user may press the option's button or list row, or type its title (any case), its
    number (``2`` or ``2.``) or its id. The option id is saved under the state's name (or
    ``save_as``): guards, ``data[...]`` and API payloads get the id, message templates show
    the title. The result is the option's own result (see :func:`option_result`) when a
    transition handles it, else ``chosen``, so one transition can serve the whole menu::

        pizza = Choice("Which pizza?", options={"margherita": "Margherita",
                                                "four-cheese": "Four cheese"})
        chosen = pizza.to(size)

    A live menu takes its options when the question is asked: ``options="slots"`` reads the
    value an earlier state saved under ``slots`` (a mapping id -> title, or a list of
    ``{"id", "title", "description"?}``), and a callable ``options(state_manager)``
    returns them. A live menu finishes ``chosen``, or ``empty`` at once when there is no
    option to offer (the flow must handle it). The options offered are kept with the
    question, so an answer is matched against what the user saw.

    Args:
        text: The question, with optional ``{name}`` placeholders.
        options: Option ids (any non-empty string up to 180 characters) mapped to the
            titles shown; or, for a live menu, the name of a saved value or a callable.
        descriptions: Optional one-line descriptions by option id (shown under list rows).
        save_as: Save under this name instead of the state's own.
        menu_label: Label of the button that opens a long list (WhatsApp: up to 20 chars).
        example: Options of a live menu for the path generator where a generated path
            cannot produce them (the state that saves them is forced, not run).
        header: A short line above the menu (WhatsApp: up to 60 characters; a template).
        footer: A short line under the menu (WhatsApp: up to 60 characters; a template).
        timeout: No answer this long after the question: the result is ``timeout``.
        reminders: ``(delay, text)`` pairs sent once each while no answer came.
        initial: This is the initial state.
    """

    kind = "Choice"

    def __init__(
        self,
        text: str,
        options: Mapping[str, str] | LiveOptions,
        *,
        descriptions: Mapping[str, str] | None = None,
        save_as: str | None = None,
        menu_label: str | None = None,
        example: Mapping[str, str] | Sequence[Mapping[str, Any]] | None = None,
        header: str | None = None,
        footer: str | None = None,
        timeout: Delay | None = None,
        reminders: Reminders = (),
        initial: bool = False,
    ) -> None:
        self.live: LiveOptions | None = None if isinstance(options, Mapping) else options
        self.options = dict(options) if isinstance(options, Mapping) else {}
        self.results_by_option = {option: option_result(option) for option in self.options}
        fixed = (*dict.fromkeys(self.results_by_option.values()), "chosen")
        super().__init__(
            text, results=fixed if self.live is None else ("chosen", "empty"),
            save_as=save_as, initial=initial,
        )  # fmt: skip
        self.descriptions = dict(descriptions or {})
        self.menu_label = menu_label
        self.example = example
        self._set_frame(header, footer)
        self._set_timers(timeout, reminders)
        if self.live is None:
            self._check_options()
        else:
            self._check_live()

    def _check_live(self) -> None:
        problems = self.definition_problems
        if isinstance(self.live, str) and not self.live.isidentifier():
            problems.append(f"options={self.live!r}: name a saved value (a plain name)")
        elif not isinstance(self.live, str) and not callable(self.live):
            problems.append("options must be a mapping, a saved value's name or a callable")
        if self.descriptions:
            problems.append("a live menu takes descriptions from its options' data")
        if self.example is not None:
            try:
                live_options(self.example, source="example")
            except FlowError as exc:
                problems.append(str(exc))

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholders of the texts, and the saved value a live menu reads."""
        reads = (self.live,) if isinstance(self.live, str) else ()
        return (*super().template_fields, *reads)

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
        if self.live is not None:
            return (("chosen",), ("empty",))
        return tuple((result, "chosen") for result in self.results_by_option.values())

    def describe(self) -> str:
        """Kind, question and the options."""
        if self.live is not None:
            source = self.live if isinstance(self.live, str) else getattr(
                self.live, "__name__", "callable") + "()"  # fmt: skip
            return f"{self.kind}: {self.text.text} [options from {source}] → {self.saved_name}"
        options = ", ".join(f"{key}: {title}" for key, title in self.options.items())
        return f"{self.kind}: {self.text.text} [{options}] → {self.saved_name}"

    def match(self, answer: str, options: Mapping[str, str] | None = None) -> str | None:
        """Return the option id ``answer`` designates (id, title, number), or ``None``.

        Args:
            answer: What the user typed or pressed.
            options: The options offered (default: the fixed ones).
        """
        options = self.options if options is None else options
        if answer in options:
            return answer
        folded = answer.strip().casefold()
        for option, title in options.items():
            if folded in (option.casefold(), title.strip().casefold()):
                return option
        number = _NUMBER.match(answer)
        if number and 1 <= int(number.group(1)) <= len(options):
            return list(options)[int(number.group(1)) - 1]
        return None

    def offered(self, state_manager: StateManager) -> list[Option]:
        """The options of this question as asked: the fixed ones, or the live ones kept."""
        if self.live is None:
            say = state_manager.speech.gettext  # fixed titles are flow texts: translated
            return [
                (option, say(title), say(description) if description else None)
                for option, title in self.options.items()
                for description in [self.descriptions.get(option)]
            ]
        kept = state_manager.get_component_data().get("options") or []
        return [(str(o), str(t), d) for o, t, d in kept]

    def _fetch(self, state_manager: StateManager) -> list[Option]:
        """Read a live menu's options now."""
        if isinstance(self.live, str):
            value = state_manager.get_value(self.live)
            return live_options(value, source=f"from saved value {self.live!r}")
        assert self.live is not None
        return live_options(self.live(state_manager), source=f"of {self.id!r}")

    @functools.cached_property
    def _own_results(self) -> frozenset[str]:
        """Option results some transition handles (the flow's structure never changes)."""
        return frozenset(r for r in self.results_by_option.values() if handles(self, r))

    def result_for(self, option: str) -> str:
        """The result picking ``option`` finishes with: its own when handled, else ``chosen``."""
        result = self.results_by_option.get(option, "chosen")
        return result if result in self._own_results else "chosen"

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        """Each option's id (as offered), with the result picking it finishes with."""
        return tuple(
            Example(option, self.result_for(option)) for option, _, _ in self.offered(state_manager)
        )

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the menu and wait; a live menu with no option finishes ``empty``."""
        if self.live is not None:
            options = self._fetch(state_manager)
            state_manager.update_component_data({"options": [list(o) for o in options]})
            if not options:
                return "empty"
        self.reprompt(state_manager)
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Send the menu again, from option ``offset`` on where the channel pages."""
        options = self.offered(state_manager)
        header, footer = self.frame(state_manager)
        state_manager.messaging.send(
            prefix + self.render(state_manager, self.text),
            buttons=tuple((option, title) for option, title, _ in options),
            tag=state_manager.question_tag,
            descriptions=tuple(description for _, _, description in options),
            menu_label=self._menu_label(state_manager),
            more_label=self._more_label(state_manager),
            offset=offset if 0 <= offset < len(options) else 0,
            header=header,
            footer=footer,
        )

    def _more_label(self, state_manager: StateManager) -> str | None:
        """The paging row's title in the conversation's language (``None``: the channel's)."""
        label = state_manager.speech.gettext(MORE_LABEL)
        return None if label == MORE_LABEL else label

    def _menu_label(self, state_manager: StateManager) -> str | None:
        """The list button's label in the conversation's language (``None``: the channel's)."""
        say = state_manager.speech.gettext
        if self.menu_label is not None:
            return say(self.menu_label)
        label = say(MENU_LABEL)
        return None if label == MENU_LABEL else label

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Save the chosen option and finish; anything else re-sends the menu."""
        answer = inbound.answer
        titles = {option: title for option, title, _ in self.offered(state_manager)}
        option = self.match(answer, titles) if answer else None
        if option is None and answer and self.live is None:
            option = self.match(answer)  # the title as written, in the source language
        if option is None:
            state_manager.record_validation(self.id, success=False, error="not one of the options")
            self.reprompt(state_manager, prefix=state_manager.speech.gettext(PICK_AGAIN) + "\n")
            return None
        state_manager.record_validation(self.id, success=True)
        state_manager.save_value(self.saved_name, option, label=titles[option])
        return self.result_for(option)

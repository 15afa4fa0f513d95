"""``Choice``: pick one option from a menu."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager

from .base import ComponentBase

__all__ = ["Choice"]


class Choice(ComponentBase):
    """Offer ``options`` (id -> title); the chosen option id is the result.

    The user may press the option's button, type its id, its title (case-insensitive) or its
    number in the list.

    Args:
        text: The question, with optional ``{name}`` placeholders.
        options: Option ids (results, stable snake_case) mapped to the titles shown.
        save_as: Save the chosen option id under this name.
        initial: This is the initial state.
    """

    kind = "Choice"
    accepts_input = True
    role: ClassVar[Role] = Role.INPUT

    def __init__(
        self,
        text: str,
        options: Mapping[str, str],
        *,
        save_as: str | None = None,
        initial: bool = False,
    ) -> None:
        super().__init__(text, results=tuple(options), initial=initial)
        self.options = dict(options)
        self.save_as = save_as
        if not self.options:
            self.definition_problems.append("a Choice needs at least one option")
        bad = [option for option in self.options if not option.isidentifier()]
        if bad:
            self.definition_problems.append(f"option ids must be plain names, got {bad}")

    def describe(self) -> str:
        """Kind, question and the options."""
        options = ", ".join(f"{key}: {title}" for key, title in self.options.items())
        return f"{self.kind}: {self.text.text} [{options}]"

    def _menu(self, state_manager: StateManager) -> str:
        lines = [self.text.render(state_manager.values())]
        lines += [f"{n}. {title}" for n, title in enumerate(self.options.values(), start=1)]
        return "\n".join(lines)

    def match(self, answer: str) -> str | None:
        """Return the option id ``answer`` designates, or ``None``."""
        answer = answer.strip()
        if answer in self.options:
            return answer
        folded = answer.casefold()
        for option, title in self.options.items():
            if folded in (option.casefold(), title.casefold()):
                return option
        if answer.isdigit() and 1 <= int(answer) <= len(self.options):
            return list(self.options)[int(answer) - 1]
        return None

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the menu, with a button per option, and wait."""
        state_manager.messaging.send(self._menu(state_manager), buttons=tuple(self.options.items()))
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Finish with the chosen option id; anything else re-sends the menu."""
        answer = inbound.answer
        option = self.match(answer) if answer else None
        if option is None:
            state_manager.record_validation(self.id, success=False, error="not one of the options")
            state_manager.messaging.send(
                f"Please pick one of the options.\n{self._menu(state_manager)}",
                buttons=tuple(self.options.items()),
            )
            return None
        state_manager.record_validation(self.id, success=True)
        if self.save_as:
            state_manager.save_value(self.save_as, option)
        return option

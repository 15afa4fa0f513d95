"""``Prompt``: ask a question and validate the answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flowhq.errors import ValidationError
from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager

from .base import ComponentBase

__all__ = ["Prompt", "Validator"]

Validator = Callable[[str], Any]
"""A callable ``str -> value`` that raises ``ValidationError(message)`` on bad input."""

TEXT_ONLY = "Please answer with a text message."


class Prompt(ComponentBase):
    """Ask ``text``, validate each answer, save the cleaned value.

    Results: ``valid``, and ``exhausted`` when ``max_attempts`` is given.

    Args:
        text: The question, with optional ``{name}`` placeholders.
        save_as: Name under which the cleaned value is saved (for templates and guards).
        validator: ``str -> value``, raising ``ValidationError``; default: keep the text.
        max_attempts: After this many invalid answers the result is ``exhausted``.
        error_text: Shown on an invalid answer instead of the validator's message.
        initial: This is the initial state.
    """

    kind = "Prompt"
    accepts_input = True
    role: ClassVar[Role] = Role.INPUT

    def __init__(
        self,
        text: str,
        *,
        save_as: str | None = None,
        validator: Validator | None = None,
        max_attempts: int | None = None,
        error_text: str | None = None,
        initial: bool = False,
    ) -> None:
        results = ("valid", "exhausted") if max_attempts is not None else ("valid",)
        super().__init__(text, results=results, initial=initial)
        if max_attempts is not None and max_attempts < 1:
            self.definition_problems.append(f"max_attempts must be at least 1, got {max_attempts}")
        if save_as is not None and not save_as.isidentifier():
            self.definition_problems.append(f"save_as={save_as!r} is not a plain name")
        self.save_as = save_as
        self.validator = validator
        self.max_attempts = max_attempts
        self.error_text = self._template(error_text) if error_text is not None else None

    def describe(self) -> str:
        """Kind, question and the saved field."""
        saved = f" → {self.save_as}" if self.save_as else ""
        return f"{self.kind}: {self.text.text}{saved}"

    async def begin(self, state_manager: StateManager) -> str | None:
        """Ask the question; a fresh visit starts a fresh count of invalid answers."""
        state_manager.clear_component_data()
        return await super().begin(state_manager)

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Validate the answer: save and finish ``valid``, or re-ask / finish ``exhausted``."""
        text = inbound.text.strip() if inbound.kind == "text" and inbound.text else None
        if text is None:
            state_manager.messaging.send(f"{TEXT_ONLY}\n{self.text.render(state_manager.values())}")
            return None
        try:
            value = self.validator(text) if self.validator else text
        except ValidationError as exc:
            return self._invalid(state_manager, exc.message)
        state_manager.record_validation(self.id, success=True)
        if self.save_as:
            state_manager.save_value(self.save_as, value)
        return "valid"

    def _invalid(self, state_manager: StateManager, message: str) -> str | None:
        state_manager.record_validation(self.id, success=False, error=message)
        failures = int(state_manager.get_component_data().get("failures", 0)) + 1
        state_manager.update_component_data({"failures": failures})
        if self.max_attempts is not None and failures >= self.max_attempts:
            return "exhausted"
        values = state_manager.values()
        shown = self.error_text.render(values) if self.error_text else message
        state_manager.messaging.send(f"{shown}\n{self.text.render(values)}")
        return None

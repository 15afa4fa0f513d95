"""``Confirm``: a yes/no gate with two reply buttons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager

from .base import ComponentBase

__all__ = ["Confirm"]

YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "sure", "ok", "okay", "confirm", "si", "sí"})
NO_WORDS = frozenset({"no", "n", "nope", "nah"})


class Confirm(ComponentBase):
    """Ask a yes/no question; finish ``yes`` or ``no``. Writes nothing but the gate's result.

    Args:
        text: The question, with optional ``{name}`` placeholders.
        yes: Title of the yes button.
        no: Title of the no button.
        yes_words: Typed answers taken as yes (case-insensitive); the button title counts too.
        no_words: Typed answers taken as no.
        initial: This is the initial state.
    """

    kind = "Confirm"
    accepts_input = True
    role: ClassVar[Role] = Role.CONFIRM

    def __init__(
        self,
        text: str,
        *,
        yes: str = "yes",
        no: str = "no",
        yes_words: Iterable[str] = YES_WORDS,
        no_words: Iterable[str] = NO_WORDS,
        initial: bool = False,
    ) -> None:
        super().__init__(text, results=("yes", "no"), initial=initial)
        self.yes_title = yes
        self.no_title = no
        self.yes_words = frozenset(w.casefold() for w in [*yes_words, yes])
        self.no_words = frozenset(w.casefold() for w in [*no_words, no])

    @property
    def buttons(self) -> tuple[tuple[str, str], ...]:
        """The two reply buttons ``(id, title)``."""
        return (("yes", self.yes_title), ("no", self.no_title))

    def describe(self) -> str:
        """Kind, question and the two answers."""
        return f"{self.kind}: {self.text.text} [{self.yes_title} / {self.no_title}]"

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the question with the two buttons and wait."""
        text = self.text.render(state_manager.values())
        state_manager.messaging.send(text, buttons=self.buttons)
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Map the button or word to ``yes``/``no``; anything else re-asks."""
        if inbound.payload in ("yes", "no"):
            answer: str | None = inbound.payload
        else:
            word = (inbound.text or "").strip().casefold()
            answer = "yes" if word in self.yes_words else "no" if word in self.no_words else None
        if answer is None:
            state_manager.record_validation(self.id, success=False, error="not a yes/no answer")
            text = self.text.render(state_manager.values())
            state_manager.messaging.send(
                f"Please answer {self.yes_title} or {self.no_title}.\n{text}", buttons=self.buttons
            )
            return None
        state_manager.record_validation(self.id, success=True)
        return answer

"""``Wait``: a state that waits for time, then finishes with ``done``."""

from __future__ import annotations

from typing import ClassVar

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager
from flowhq.statecharts.component_state import TimerSpec, format_delay, seconds

from .base import Component, Delay

__all__ = ["BUSY_TEXT", "Wait"]

BUSY_TEXT = "One moment, please…"
"""What a user who writes while the flow waits is told (commands still work)."""


class Wait(Component):
    """Wait ``delay``, then finish with ``done``; optionally say something first.

    While it waits, the flow's commands work as anywhere; any other message is answered
    with ``busy_text`` (never silence) and the wait goes on.

    Args:
        delay: How long to wait (a ``timedelta`` or seconds).
        text: Sent when the wait begins (``None``: nothing).
        busy_text: The answer to a message that arrives meanwhile.
        initial: This is the initial state.
    """

    kind = "Wait"
    accepts_input = True  # it answers what arrives meanwhile, and commands reach it
    role: ClassVar[Role] = Role.DISPLAY

    def __init__(
        self,
        delay: Delay,
        *,
        text: str | None = None,
        busy_text: str = BUSY_TEXT,
        initial: bool = False,
    ) -> None:
        super().__init__(text or "", results=("done",), initial=initial)
        self.says = text is not None
        self.busy_text = self._template(busy_text)
        try:
            self.timers = (TimerSpec("wait", seconds(delay, "delay"), result="done"),)
        except ValueError as exc:
            self.definition_problems.append(str(exc))

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholders of the text and of the busy text."""
        return (*self.text.fields, *self.busy_text.fields)

    def describe(self) -> str:
        """Kind, delay and text as written."""
        delay = format_delay(self.timers[0].delay) if self.timers else "?"
        return f"{self.kind} {delay}" + (f": {self.text.text}" if self.says else "")

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the text, if any; the runtime arms the timer that finishes the wait."""
        if self.says and not state_manager.resumed:
            state_manager.messaging.send(self.render(state_manager, self.text))
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Answer a message that arrives meanwhile, and keep waiting."""
        state_manager.messaging.send(self.render(state_manager, self.busy_text))
        return None

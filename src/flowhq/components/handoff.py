"""``Handoff``: the bot steps aside and a person answers (docs/handoff.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, StateManager

from .base import ComponentBase, Delay

__all__ = ["Handoff"]


class Handoff(ComponentBase):
    """Send ``text`` and pause the bot: a person answers until the conversation is resumed.

    While the conversation is paused, what the user writes is kept in the transcript and
    handed to ``Headquarters(on_handoff=...)``; the bot answers nothing, commands included.
    ``await hq.resume(channel, identifier, result=...)`` leaves this state with ``result``.

    Args:
        text: Sent when the state is entered (tell the user a person will answer).
        results: The results a resume may give (each must be handled by the flow).
        timeout: Nobody resumed the conversation this long after it paused: the result is
            ``timeout`` and the bot takes over again.
        initial: This is the initial state.
    """

    kind = "Handoff"
    accepts_input = True  # the conversation waits here; paused, nothing reaches it
    pauses: ClassVar[bool] = True
    role: ClassVar[Role] = Role.DISPLAY

    def __init__(
        self,
        text: str,
        *,
        results: Sequence[str] = ("resumed",),
        timeout: Delay | None = None,
        initial: bool = False,
    ) -> None:
        super().__init__(text, results=results, initial=initial)
        if not self.results:
            self.definition_problems.append("a Handoff needs at least one result to resume with")
        if "timeout" in self.results:
            self.definition_problems.append("'timeout' is the result of timeout=, not a resume")
        self._set_timers(timeout, ())

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the text (the runtime pauses the conversation as the state is entered)."""
        if not state_manager.resumed:
            state_manager.messaging.send(self.render(state_manager, self.text))
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Nothing: a paused conversation's messages go to the transcript, not here."""
        return None

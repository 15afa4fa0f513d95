"""``Message``: show a text and finish with ``done``."""

from __future__ import annotations

from typing import ClassVar

from flowhq.state.manager import Role, StateManager

from .base import Component

__all__ = ["Message"]


class Message(Component):
    """Send ``text`` and finish at once with the result ``done``.

    Args:
        text: The message, with optional ``{name}`` placeholders.
        final: Reaching this state finishes the flow.
        initial: This is the initial state.
    """

    kind = "Message"
    role: ClassVar[Role] = Role.DISPLAY

    def __init__(self, text: str, *, final: bool = False, initial: bool = False) -> None:
        super().__init__(text, results=("done",), initial=initial, final=final)

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the text and finish with ``done``."""
        await super().begin(state_manager)
        return "done"

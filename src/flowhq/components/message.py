"""``Message``: show a text and finish with ``done``."""

from __future__ import annotations

from typing import ClassVar

from flowhq.messaging.types import Media, OutboundMessage
from flowhq.messaging.types import Template as ApprovedTemplate
from flowhq.state.manager import Role, StateManager

from .base import Component

__all__ = ["Message"]


class Message(Component):
    """Send ``text`` and finish at once with the result ``done``.

    Args:
        text: The message, with optional ``{name}`` placeholders.
        template: An approved template sent instead of ``text`` where only templates may
            go (outside WhatsApp's 24-hour window). Its ``params`` may hold ``{name}``
            placeholders, checked like the text when the flow class is created.
        media: An image, video, audio, document or sticker sent with the text (the text
            becomes its caption where the channel allows one): ``Media.image(url)``.
        final: Reaching this state finishes the flow.
        initial: This is the initial state.
    """

    kind = "Message"
    role: ClassVar[Role] = Role.DISPLAY

    def __init__(
        self,
        text: str,
        *,
        template: ApprovedTemplate | None = None,
        media: Media | None = None,
        final: bool = False,
        initial: bool = False,
    ) -> None:
        super().__init__(text, results=("done",), initial=initial, final=final)
        self.template = template
        self.media = media
        self.template_params = tuple(self._template(p) for p in template.params) if template else ()

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholder names of the text, the reminders and the template's parameters."""
        params = tuple(name for param in self.template_params for name in param.fields)
        return (*super().template_fields, *params)

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the text (with its template, filled, and its media); finish with ``done``."""
        if self.template is None and self.media is None:
            await super().begin(state_manager)
            return "done"
        values = state_manager.values()
        template = None
        if self.template is not None:
            params = [param.render(values) for param in self.template_params]
            name, language = self.template.name, self.template.language
            buttons = self.template.buttons
            template = ApprovedTemplate(name, language, params=params, buttons=buttons)
        reply = OutboundMessage(self.text.render(values), template=template, media=self.media)
        state_manager.messaging.messages.append(reply)
        return "done"

"""``Prompt``: ask a question and validate the answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flowhq.errors import ValidationError
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.state.manager import StateManager

from .base import AnswerComponent, Delay, Example, Reminders

__all__ = ["ACCEPTED_KINDS", "GENERIC_ANSWERS", "Prompt", "Validator"]

Validator = Callable[[str], Any]
"""A callable ``str -> value`` that raises ``ValidationError(message)`` on bad input."""

GENERIC_ANSWERS = ("hello", "42", "ann@example.com", "+15550001234", "yes", "no")
"""What the path generator tries on a prompt whose validator carries no ``samples``."""

ACCEPTED_KINDS = ("text", "location", "image", "video", "audio", "document", "sticker")
"""What a Prompt can ask for with ``accept=``."""

ASK_FOR_KIND = "Please answer with {wanted}."
"""The re-ask when a message of the wrong kind arrives (``wanted``: what it accepts)."""

_ASK_FOR = {
    "text": "a text message",
    "location": "a location (📎 → Location)",
    "image": "a photo",
    "video": "a video",
    "audio": "a voice message or audio file",
    "document": "a document",
    "sticker": "a sticker",
}


class Prompt(AnswerComponent):
    """Ask ``text``, validate each answer, save the cleaned value under the state's name.

    Results: ``valid``, ``exhausted`` when ``max_attempts`` is given, ``timeout`` when
    ``timeout`` is given.

    ``quantity = Prompt("How many?", validator=integer(min=1))`` saves the answer as
    ``quantity`` (``{quantity}`` in later texts, ``data["quantity"]`` in guards).

    Args:
        text: The question, with optional ``{name}`` placeholders.
        save_as: Save under this name instead of the state's own.
        validator: ``str -> value``, raising ``ValidationError``; default: keep the text.
        max_attempts: After this many invalid answers the result is ``exhausted``.
        error_text: Shown on an invalid answer instead of the validator's message.
        accept: The kinds of message that answer it (default text only). A location is
            saved as ``{"latitude", "longitude", "name", "address"}``; media as a reference
            ``{"type", "id", "mime_type"}`` with ``caption``, ``filename``, ``sha256`` and
            ``size`` when known (``WhatsAppMessenger.download`` fetches the bytes); the
            validator applies to text.
        timeout: No answer this long after the question (a ``timedelta`` or seconds):
            the result is ``timeout``. An answer cancels it.
        reminders: ``(delay, text)`` pairs: while no answer came, each text goes out once,
            ``delay`` after the question.
        request_location: Ask with a "Send location" button (needs ``"location"`` in
            ``accept``; channels without one show the text alone).
        initial: This is the initial state.
    """

    kind = "Prompt"

    def __init__(
        self,
        text: str,
        *,
        save_as: str | None = None,
        validator: Validator | None = None,
        max_attempts: int | None = None,
        error_text: str | None = None,
        accept: Iterable[str] = ("text",),
        timeout: Delay | None = None,
        reminders: Reminders = (),
        request_location: bool = False,
        initial: bool = False,
    ) -> None:
        results = ("valid", "exhausted") if max_attempts is not None else ("valid",)
        super().__init__(text, results=results, save_as=save_as, initial=initial)
        if max_attempts is not None and max_attempts < 1:
            self.definition_problems.append(f"max_attempts must be at least 1, got {max_attempts}")
        self.accept = tuple(accept)
        unknown = [kind for kind in self.accept if kind not in ACCEPTED_KINDS]
        if unknown or not self.accept:
            self.definition_problems.append(
                f"accept={self.accept!r}: choose among {', '.join(ACCEPTED_KINDS)}"
            )
        if request_location and "location" not in self.accept:
            self.definition_problems.append("request_location needs accept=('location', ...)")
        self.request_location = request_location
        self.validator = validator
        self.max_attempts = max_attempts
        self.error_text = self._template(error_text) if error_text is not None else None
        self._set_timers(timeout, reminders)

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholders of the question and of the error text."""
        extra = self.error_text.fields if self.error_text else ()
        return (*self.text.fields, *extra, *self.timer_fields)

    def describe(self) -> str:
        """Kind, question and the saved name."""
        return f"{self.kind}: {self.text.text} → {self.saved_name}"

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        """The validator's ``samples`` (valid and invalid answers), else a plain answer."""
        if "text" not in self.accept:
            return ()
        if self.validator is None:
            return (Example("hello", "valid"),)
        samples = getattr(self.validator, "samples", None) or GENERIC_ANSWERS
        return tuple(Example(text, self._sample_result(state_manager, text)) for text in samples)

    def _sample_result(self, state_manager: StateManager, text: str) -> str | None:
        try:
            self._validate(state_manager, text)
        except ValidationError:
            return None
        return "valid"

    async def begin(self, state_manager: StateManager) -> str | None:
        """Ask the question; a fresh visit starts a fresh count of invalid answers."""
        if not state_manager.resumed:
            state_manager.clear_component_data()
        self.reprompt(state_manager)
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Send the question again, after ``prefix``."""
        question = prefix + self.render(state_manager, self.text)
        if self.request_location:
            reply = OutboundMessage(question, request_location=True)
            state_manager.messaging.messages.append(reply)
        else:
            state_manager.messaging.send(question)

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Validate the answer: save and finish ``valid``, or re-ask / finish ``exhausted``."""
        value = self._answer(inbound)
        if value is None:
            # A sticker or a photo sent by mistake is not an attempt at the answer.
            say = state_manager.speech.gettext
            wanted = say(" or ").join(say(_ASK_FOR[kind]) for kind in self.accept)
            self.reprompt(state_manager, prefix=say(ASK_FOR_KIND).format(wanted=wanted) + "\n")
            return None
        if isinstance(value, str):
            try:
                value = self._validate(state_manager, value)
            except ValidationError as exc:
                return self._invalid(state_manager, state_manager.speech.gettext(exc.message))
        state_manager.record_validation(self.id, success=True)
        label = getattr(self.validator, "label", None)
        shown = label(value, state_manager.speech) if callable(label) else None
        state_manager.save_value(self.saved_name, value, label=shown)
        return "valid"

    def _validate(self, state_manager: StateManager, text: str) -> Any:
        """The validator's value; one that takes ``speech`` gets the conversation's."""
        if self.validator is None:
            return text
        validator: Any = self.validator
        if getattr(validator, "takes_speech", False):
            return validator(text, state_manager.speech)
        return validator(text)

    def _answer(self, inbound: InboundMessage) -> Any:
        """The raw answer if the message is of an accepted kind, else ``None``."""
        if inbound.kind not in self.accept:
            return None
        if inbound.kind == "text":
            text = (inbound.text or "").strip()
            return text or None
        if inbound.location is not None:
            where = inbound.location
            return {
                "latitude": where.latitude,
                "longitude": where.longitude,
                "name": where.name,
                "address": where.address,
            }
        if inbound.media is not None:
            media = inbound.media
            saved: dict[str, Any] = {"type": inbound.kind, "id": media.id}
            extra: dict[str, Any] = {"mime_type": media.mime_type, "caption": media.caption}
            extra |= {"filename": media.filename, "sha256": media.sha256, "size": media.size}
            return saved | {key: value for key, value in extra.items() if value is not None}
        return None

    def _invalid(self, state_manager: StateManager, message: str) -> str | None:
        state_manager.record_validation(self.id, success=False, error=message)
        failures = int(state_manager.get_component_data().get("failures", 0)) + 1
        state_manager.update_component_data({"failures": failures})
        if self.max_attempts is not None and failures >= self.max_attempts:
            return "exhausted"
        shown = self.render(state_manager, self.error_text) if self.error_text else message
        self.reprompt(state_manager, prefix=f"{shown}\n")
        return None

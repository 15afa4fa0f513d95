"""``Confirm``: a yes/no gate with two reply buttons."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from flowhq.messaging.types import InboundMessage
from flowhq.state.manager import Role, Speech, StateManager

from .base import Component, Delay, Example, Reminders

__all__ = [
    "ANSWER_AGAIN",
    "NO_WORDS",
    "NO_WORDS_TEXT",
    "YES_WORDS",
    "YES_WORDS_TEXT",
    "Confirm",
    "normalize_answer",
]

YES_WORDS = frozenset(
    {
        "yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "k", "confirm", "correct",
        "right", "of course", "yes please", "sure thing", "absolutely", "definitely",
        "go ahead", "sounds good", "👍", "✅", "✔", "☑", "👌",
    }
)  # fmt: skip
NO_WORDS = frozenset(
    {
        "no", "n", "nope", "nah", "no thanks", "no thank you", "not now", "cancel it",
        "wrong", "👎", "❌", "✖", "🚫",
    }
)  # fmt: skip

YES_WORDS_TEXT = (
    "yes, y, yeah, yep, yup, sure, ok, okay, k, confirm, correct, right, of course, "
    "yes please, sure thing, absolutely, definitely, go ahead, sounds good"
)
"""The typed words taken as yes, as one translatable text (comma-separated): a catalog
gives each language's words; 👍 ✅ ✔ ☑ 👌 count in every language."""
NO_WORDS_TEXT = "no, n, nope, nah, no thanks, no thank you, not now, cancel it, wrong"
"""The typed words taken as no, as one translatable text; 👎 ❌ ✖ 🚫 count everywhere."""
ANSWER_AGAIN = "Please answer {yes} or {no}."
"""The re-ask after an answer that is neither yes nor no (the two button titles)."""

_YES_EMOJI = ("👍", "✅", "✔", "☑", "👌")
_NO_EMOJI = ("👎", "❌", "✖", "🚫")
_SPACES = re.compile(r"\s+")


def normalize_answer(text: str) -> str:
    """Fold case, drop skin tones, variation selectors and trailing punctuation."""
    folded = "".join(
        ch
        for ch in unicodedata.normalize("NFKC", text).casefold()
        # Skin-tone modifiers and emoji variation selectors do not change the answer.
        if not ("\U0001f3fb" <= ch <= "\U0001f3ff" or ch in "\ufe0e\ufe0f")
    )
    return _SPACES.sub(" ", folded).strip(" .!?,;:¡¿")


class Confirm(Component):
    """Ask a yes/no question; finish ``yes`` or ``no``. Writes nothing but the gate's result.

    The user may press a button, type its number, or answer in words or emoji: the flow's
    ``yes_words``/``no_words`` (English and 👍/👎 by default), set per flow for other
    languages, or per component.

    Args:
        text: The question, with optional ``{name}`` placeholders.
        yes: Title of the yes button.
        no: Title of the no button.
        yes_words: Typed answers taken as yes (case-insensitive); the button title counts too.
        no_words: Typed answers taken as no.
        timeout: No answer this long after the question: the result is ``timeout``.
        reminders: ``(delay, text)`` pairs sent once each while no answer came.
        header: A short line above the question (WhatsApp: up to 60 characters).
        footer: A short line under the buttons (WhatsApp: up to 60 characters).
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
        yes_words: Iterable[str] | None = None,
        no_words: Iterable[str] | None = None,
        timeout: Delay | None = None,
        reminders: Reminders = (),
        header: str | None = None,
        footer: str | None = None,
        initial: bool = False,
    ) -> None:
        super().__init__(text, results=("yes", "no"), initial=initial)
        self._set_timers(timeout, reminders)
        self._set_frame(header, footer)
        self.yes_title = yes
        self.no_title = no
        self._own_words = (yes_words, no_words)
        # A state object is shared by a flow and its subclasses, which may speak other
        # languages: the words are kept per flow name, never overwritten by the last flow.
        self._by_flow: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self._custom: dict[str, bool] = {}
        self.yes_words, self.no_words = self._word_sets(None)  # outside any flow

    def _word_sets(self, flow_cls: Any) -> tuple[frozenset[str], frozenset[str]]:
        """The yes and no words in ``flow_cls``: the component's own, else the flow's."""
        own_yes, own_no = self._own_words
        yes = own_yes or getattr(flow_cls, "yes_words", None) or YES_WORDS
        no = own_no or getattr(flow_cls, "no_words", None) or NO_WORDS
        return (
            frozenset(normalize_answer(w) for w in [*yes, self.yes_title]),
            frozenset(normalize_answer(w) for w in [*no, self.no_title]),
        )

    def bind(self, flow_cls: Any) -> None:
        """Take the flow's ``yes_words``/``no_words`` unless the component set its own."""
        self._by_flow[flow_cls.name] = self._word_sets(flow_cls)
        own_yes, own_no = self._own_words
        self._custom[flow_cls.name] = bool(
            own_yes or own_no or getattr(flow_cls, "yes_words", None)
            or getattr(flow_cls, "no_words", None)
        )  # fmt: skip

    def flow_problems(self, flow_cls: Any) -> list[str]:
        """Words the flow would take as both yes and no."""
        yes, no = self._word_sets(flow_cls)
        both = sorted(yes & no)
        return [f"words taken as both yes and no: {both}"] if both else []

    @property
    def buttons(self) -> tuple[tuple[str, str], ...]:
        """The two reply buttons ``(id, title)``, as written."""
        return (("yes", self.yes_title), ("no", self.no_title))

    def titles(self, state_manager: StateManager) -> tuple[str, str]:
        """The two button titles in the conversation's language."""
        say = state_manager.speech.gettext
        return say(self.yes_title), say(self.no_title)

    def describe(self) -> str:
        """Kind, question and the two answers."""
        return f"{self.kind}: {self.text.text} [{self.yes_title} / {self.no_title}]"

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        """The two answers."""
        return (Example("yes", "yes"), Example("no", "no"))

    async def begin(self, state_manager: StateManager) -> str | None:
        """Send the question with the two buttons and wait."""
        self.reprompt(state_manager)
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        """Send the question and its buttons again, after ``prefix``."""
        text = prefix + self.render(state_manager, self.text)
        yes, no = self.titles(state_manager)
        buttons = (("yes", yes), ("no", no))
        header, footer = self.frame(state_manager)
        state_manager.messaging.send(
            text, buttons=buttons, tag=state_manager.question_tag, header=header, footer=footer
        )

    def match(
        self, inbound: InboundMessage, flow: str | None = None, *, speech: Speech | None = None
    ) -> str | None:
        """``"yes"``, ``"no"`` or ``None`` for a button, a number, a word or an emoji.

        ``flow`` names the flow whose words count (default: the component's own or English).
        With ``speech``, the words of the conversation's language count first (unless the
        flow or the component set its own words), and the translated button titles.
        """
        if inbound.payload in ("yes", "no"):
            return inbound.payload
        word = normalize_answer(inbound.text or "")
        rounds: list[tuple[frozenset[str], frozenset[str]]] = [(frozenset({"1"}), frozenset({"2"}))]
        if speech is not None and not self._custom.get(flow or "", False):
            rounds.append(_local_words(speech, self.yes_title, self.no_title))
        rounds.append(self._by_flow.get(flow or "", (self.yes_words, self.no_words)))
        for yes, no in rounds:  # the number, the conversation's language, the flow's words
            if word in yes:
                return "yes"
            if word in no:
                return "no"
        return None

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        """Map the answer to ``yes``/``no``; anything else re-asks."""
        answer = self.match(inbound, state_manager.get_path(), speech=state_manager.speech)
        if answer is None:
            state_manager.record_validation(self.id, success=False, error="not a yes/no answer")
            yes, no = self.titles(state_manager)
            again = state_manager.speech.gettext(ANSWER_AGAIN).format(yes=yes, no=no)
            self.reprompt(state_manager, prefix=f"{again}\n")
            return None
        state_manager.record_validation(self.id, success=True)
        return answer


def _local_words(
    speech: Speech, yes_title: str, no_title: str
) -> tuple[frozenset[str], frozenset[str]]:
    """The yes and no words of the conversation's language, with its button titles."""

    def words(text: str, title: str) -> frozenset[str]:
        said = speech.gettext(text)
        listed = _word_list(said) if said != text else frozenset()
        return listed | {normalize_answer(speech.gettext(title))}

    return words(YES_WORDS_TEXT, yes_title), words(NO_WORDS_TEXT, no_title)


@functools.lru_cache(maxsize=64)
def _word_list(said: str) -> frozenset[str]:
    """A translated word list (comma-separated), normalized; a catalog has few of them."""
    return frozenset(normalize_answer(word) for word in said.split(",") if word.strip())

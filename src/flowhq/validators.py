"""Validators for ``Prompt``: callables ``str -> value`` that raise ``ValidationError(message)``.

``ValidationError`` lives in ``flowhq.errors`` (and ``flowhq``); it is importable from here
too, for validators written beside these.

Dates, times and numbers are read in the conversation's language and time zone: those
validators are :class:`Understanding` objects, which ``Prompt`` calls with the
conversation's ``speech`` (``validator(text, speech)``); their re-asks come in that
language. Messages of the plain validators are message ids the catalogs translate.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dateparser
from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import NumberFormatError, format_decimal, parse_decimal

from flowhq.errors import ValidationError
from flowhq.state.manager import PlainSpeech, Speech

__all__ = [
    "Understanding",
    "date",
    "email",
    "integer",
    "number",
    "one_of",
    "phone",
    "regex",
    "time",
]

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_PHONE_NOISE = re.compile(r"[\s().-]")


def _samples(validator: Callable[[str], object], *samples: str) -> None:
    """Attach inputs worth trying (valid and invalid) for ``flowhq.testing.paths``."""
    validator.samples = samples  # type: ignore[attr-defined]


def email(text: str) -> str:
    """An email address; the domain is lower-cased.

    Raises:
        ValidationError: when ``text`` is not an address.
    """
    value = text.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValidationError("That doesn't look like an email address.")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


_samples(email, "ann@example.com", "not-an-email")


def phone(text: str) -> str:
    """A phone number in E.164 form (``+`` and 8 to 15 digits); spaces and dashes are dropped.

    Raises:
        ValidationError: when ``text`` is not an E.164 number.
    """
    value = _PHONE_NOISE.sub("", text.strip())
    if value.startswith("00"):
        value = "+" + value[2:]
    if not _E164.match(value):
        raise ValidationError("Please send the number with its country code, like +15550001234.")
    return value


_samples(phone, "+15550001234", "12345")


def integer(min: int | None = None, max: int | None = None) -> Understanding:
    """Build a validator for a whole number within optional bounds.

    Read the conversation's way ("1.000" is a thousand in Spanish); the re-asks come in
    its language.
    """
    validate = _Number(min, max, whole=True)
    # Bounds, the values just outside them, and common thresholds (adulthood, zero).
    candidates = {0, 1, 17, 18, 21, 65}
    for bound in (min, max):
        if bound is not None:
            candidates |= {bound - 1, bound, bound + 1}
    validate.samples = (*(str(n) for n in sorted(candidates)), "not a number")
    return validate


def regex(pattern: str, message: str, *, example: str | None = None) -> Callable[[str], str]:
    """Build a validator accepting text that fully matches ``pattern``; else ``message``.

    Args:
        pattern: The regular expression the whole answer must match.
        message: What the user is told otherwise.
        example: A matching answer, used by ``flowhq.testing.paths`` to drive the prompt.

    Raises:
        ValueError: when ``example`` does not match ``pattern``.
    """
    compiled = re.compile(pattern)

    def validate(text: str) -> str:
        value = text.strip()
        if not compiled.fullmatch(value):
            raise ValidationError(message)
        return value

    if example is not None and not compiled.fullmatch(example):
        raise ValueError(f"example {example!r} does not match {pattern!r}")
    _samples(validate, *([example] if example else []), "\u2639 not this")
    return validate


class Understanding:
    """A validator that reads the answer in the conversation's language and time zone.

    ``Prompt`` calls it as ``validator(text, speech)``; called with the text alone it reads
    English in UTC. Subclasses implement :meth:`understand`.

    Attributes:
        samples: Answers worth trying (valid and invalid) for ``flowhq.testing.paths``.
    """

    takes_speech = True
    samples: tuple[str, ...] = ()

    def __call__(self, text: str, speech: Speech | None = None) -> Any:
        """The value ``text`` designates.

        Raises:
            ValidationError: with a re-ask in the conversation's language.
        """
        return self.understand(text.strip(), speech or PlainSpeech())

    def understand(self, text: str, speech: Speech) -> Any:
        """Read ``text`` (stripped) for ``speech``'s conversation."""
        raise NotImplementedError


def _language(locale: str) -> str:
    return locale.partition("_")[0]


def _date_order(locale: str) -> str:
    """``DMY``, ``MDY`` or ``YMD``: how the locale writes a short date (``12/11``)."""
    pattern = Locale.parse(locale).date_formats["short"].pattern
    order = sorted(("DMY"[i], pattern.find(ch)) for i, ch in enumerate("dMy") if ch in pattern)
    return "".join(letter for letter, _ in sorted(order, key=lambda item: item[1]))


_LONGEST_MOMENT = 80
"""Longest answer read as a date or time."""


def _parse_moment(text: str, speech: Speech, base: dt.datetime, prefer: str) -> dt.datetime | None:
    """``text`` as a date and time in the conversation's language, relative to ``base``."""
    if len(text) > _LONGEST_MOMENT:
        return None  # no one writes a day in a paragraph; spare the parser
    languages = list(dict.fromkeys([_language(speech.locale), "en"]))
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": prefer,
        "DATE_ORDER": _date_order(speech.locale),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with warnings.catch_warnings():  # dateparser's own deprecations are not the user's
        warnings.simplefilter("ignore")
        try:
            found: dt.datetime | None = dateparser.parse(
                text, languages=languages, settings=settings
            )
        except ValueError:  # a language Babel knows and dateparser does not: English
            found = dateparser.parse(text, languages=["en"], settings=settings)
    return found


def _shown(day: dt.date, speech: Speech) -> str:
    return format_date(day, format="medium", locale=speech.locale)


DATE_AGAIN = "Please send a date, like {example}."
DATE_FROM_TODAY = "Please send a day from today on."
DATE_PASSED = "Please send a day that has passed."
DATE_FROM = "Please send a day from {day} on."
DATE_UNTIL = "Please send a day up to {day}."


class _Date(Understanding):
    def __init__(
        self, future: bool | None, past: bool | None, first: dt.date | None, last: dt.date | None
    ) -> None:
        self.future, self.past, self.first, self.last = future, past, first, last
        self.samples = ("tomorrow", "yesterday", "no idea")

    def understand(self, text: str, speech: Speech) -> str:
        say = speech.gettext
        now = speech.now()
        prefer = "future" if self.future else "past" if self.past else "current_period"
        moment = _parse_moment(text, speech, now.replace(tzinfo=None), prefer) if text else None
        today = now.date()
        if moment is None:
            example = _shown(today + dt.timedelta(days=1), speech)
            raise ValidationError(say(DATE_AGAIN).format(example=example))
        day = moment.date()
        if self.future and day < today:
            raise ValidationError(say(DATE_FROM_TODAY))
        if self.past and day > today:
            raise ValidationError(say(DATE_PASSED))
        if self.first is not None and day < self.first:
            raise ValidationError(say(DATE_FROM).format(day=_shown(self.first, speech)))
        if self.last is not None and day > self.last:
            raise ValidationError(say(DATE_UNTIL).format(day=_shown(self.last, speech)))
        return day.isoformat()


def date(
    *,
    future: bool | None = None,
    past: bool | None = None,
    min: dt.date | None = None,
    max: dt.date | None = None,
) -> Understanding:
    """Build a validator for a day, written as people write it, saved as ``"2026-12-31"``.

    Understands the conversation's language ("tomorrow", "next Tuesday", "12/12",
    "mañana", "martes", "amanhã"; short dates in the locale's order: ``12/11`` is 12
    November in Spanish, December 11 in American English), relative to today in the
    conversation's time zone. Show it with ``{name:date}``.

    Args:
        future: Refuse days before today (and read "Tuesday" as the next one).
        past: Refuse days after today (and read "Tuesday" as the last one).
        min: The first day accepted.
        max: The last day accepted.
    """
    return _Date(future, past, min, max)


TIME_AGAIN = "Please send a time, like {example}."


class _Time(Understanding):
    samples = ("15:30", "later")

    def understand(self, text: str, speech: Speech) -> str:
        base = speech.now().replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        # A text without a time takes the base's: read it at two bases and compare.
        early = _parse_moment(text, speech, base, "current_period") if text else None
        late = _parse_moment(text, speech, base.replace(hour=13), "current_period")
        if early is None or late is None or early.time() != late.time():
            example = format_time(dt.time(16, 30), format="short", locale=speech.locale)
            raise ValidationError(speech.gettext(TIME_AGAIN).format(example=example))
        return early.strftime("%H:%M")


def time() -> Understanding:
    """Build a validator for a time of day ("15:30", "3pm", "9h"), saved as ``"15:30"``.

    Show it with ``{name:time}`` (3:30 PM in English, 15:30 in Spanish).
    """
    return _Time()


NUMBER_AGAIN = "Please send a number."
NUMBER_AT_LEAST = "Please send a number of at least {min}."
NUMBER_AT_MOST = "Please send a number of at most {max}."


WHOLE_AGAIN = "Please send a whole number."
_LARGEST = Decimal(10) ** 15
"""Numbers are kept exactly below this (JSON's doubles hold 15 significant digits)."""


class _Number(Understanding):
    def __init__(self, first: float | None, last: float | None, whole: bool) -> None:
        self.first, self.last, self.whole = first, last, whole
        candidates = {0, 1, *(b for b in (first, last) if b is not None)}
        self.samples = (*(str(n) for n in sorted(candidates)), "many")

    def understand(self, text: str, speech: Speech) -> float | int:
        say = speech.gettext
        again = WHOLE_AGAIN if self.whole else NUMBER_AGAIN
        try:
            parsed = parse_decimal(text, locale=speech.locale, strict=False)
        except NumberFormatError:
            raise ValidationError(say(again)) from None
        if not parsed.is_finite() or abs(parsed) >= _LARGEST:  # "inf", or beyond what JSON keeps
            raise ValidationError(say(again))
        if self.whole and parsed != parsed.to_integral_value():
            raise ValidationError(say(WHOLE_AGAIN))
        value: float | int = int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
        locale = speech.locale
        if self.first is not None and value < self.first:
            limit = format_decimal(self.first, locale=locale)
            raise ValidationError(say(NUMBER_AT_LEAST).format(min=limit))
        if self.last is not None and value > self.last:
            limit = format_decimal(self.last, locale=locale)
            raise ValidationError(say(NUMBER_AT_MOST).format(max=limit))
        return value


def number(*, min: float | None = None, max: float | None = None) -> Understanding:
    """Build a validator for a number written the conversation's way ("1.234,5" in Spanish).

    Saves an ``int`` when the number is whole, else a ``float``. Show it with
    ``{name:number}``.

    Args:
        min: The smallest number accepted.
        max: The largest number accepted.
    """
    return _Number(min, max, whole=False)


ONE_OF_AGAIN = "Please answer one of: {values}."


class _OneOf(Understanding):
    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.samples = (*values, "none of these")

    def understand(self, text: str, speech: Speech) -> str:
        say = speech.gettext
        for value in self.values:  # the value as written, or as the conversation says it
            if text.casefold() in (value.casefold(), say(value).casefold()):
                return value
        shown = ", ".join(say(value) for value in self.values)
        raise ValidationError(say(ONE_OF_AGAIN).format(values=shown))

    def label(self, value: str, speech: Speech) -> str | None:
        """How the chosen value is shown: in the conversation's language."""
        shown = speech.gettext(value)
        return shown if shown != value else None


def one_of(*values: str) -> Understanding:
    """Build a validator accepting one of ``values`` (case-insensitive); returns it as declared.

    In another language the translated value is accepted too (the values are flow texts),
    and templates show the value translated; guards and data get it as declared.
    """
    return _OneOf(values)

"""Validators for ``Prompt``: callables ``str -> value`` that raise ``ValidationError(message)``.

``ValidationError`` lives in ``flowhq.errors`` (and ``flowhq``); it is importable from here
too, for validators written beside these.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flowhq.errors import ValidationError

__all__ = ["email", "integer", "one_of", "phone", "regex"]

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


def integer(min: int | None = None, max: int | None = None) -> Callable[[str], int]:
    """Build a validator for a whole number within optional bounds."""

    def validate(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValidationError("Please send a whole number.") from None
        if min is not None and value < min:
            raise ValidationError(f"Please send a number of at least {min}.")
        if max is not None and value > max:
            raise ValidationError(f"Please send a number of at most {max}.")
        return value

    # Bounds, the values just outside them, and common thresholds (adulthood, zero).
    candidates = {0, 1, 17, 18, 21, 65}
    for bound in (min, max):
        if bound is not None:
            candidates |= {bound - 1, bound, bound + 1}
    _samples(validate, *(str(n) for n in sorted(candidates)), "not a number")
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


def one_of(*values: str) -> Callable[[str], str]:
    """Build a validator accepting one of ``values`` (case-insensitive); returns it as declared."""
    by_folded = {value.casefold(): value for value in values}

    def validate(text: str) -> str:
        found = by_folded.get(text.strip().casefold())
        if found is None:
            raise ValidationError(f"Please answer one of: {', '.join(values)}.")
        return found

    _samples(validate, *values, "none of these")
    return validate

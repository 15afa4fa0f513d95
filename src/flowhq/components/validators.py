"""Validators: callables ``str -> value`` that raise ``ValidationError(message)``."""

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

    return validate


def regex(pattern: str, message: str) -> Callable[[str], str]:
    """Build a validator accepting text that fully matches ``pattern``; else ``message``."""
    compiled = re.compile(pattern)

    def validate(text: str) -> str:
        value = text.strip()
        if not compiled.fullmatch(value):
            raise ValidationError(message)
        return value

    return validate


def one_of(*values: str) -> Callable[[str], str]:
    """Build a validator accepting one of ``values`` (case-insensitive); returns it as declared."""
    by_folded = {value.casefold(): value for value in values}

    def validate(text: str) -> str:
        found = by_folded.get(text.strip().casefold())
        if found is None:
            raise ValidationError(f"Please answer one of: {', '.join(values)}.")
        return found

    return validate

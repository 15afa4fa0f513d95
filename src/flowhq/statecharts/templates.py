"""Message templates: ``{name}`` placeholders filled from saved values, and nothing else.

``str.format`` would happily evaluate ``{user.__class__}`` or ``{items[0]}``; a template that
reaches into objects is a way to leak data, so only plain names are accepted, plus the two
namespaces of data that comes from outside the flow: ``{dashboard.name}`` and
``{action.name}``. The check happens when the flow class is defined, and so does the check
that every plain name is one the flow saves (see ``flowhq.statecharts.checks``).

A value may be shown through one of a fixed set of named formats, in the conversation's
locale (Babel): ``{day:date}``, ``{at:time}``, ``{when:datetime}``, ``{count:number}``,
``{price:currency}`` (see :data:`FORMATS`). Nothing else after the colon is accepted.

A name with no value at run time raises :class:`~flowhq.errors.MissingValueError`: a user
never receives a message with a hole in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from attrs import frozen
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, get_territory_currencies

from flowhq.errors import MissingValueError

__all__ = ["FORMATS", "NAMESPACES", "Template", "fill_json", "format_value", "json_fields"]

_FORMATTER = string.Formatter()

NAMESPACES = ("dashboard", "action")
"""Prefixes of values that come from outside the flow (``{dashboard.first_name}``)."""


class TemplateError(ValueError):
    """A template uses something other than plain ``{name}`` placeholders."""


def _date(value: Any, zone: dt.tzinfo) -> dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return (value.astimezone(zone) if value.tzinfo else value).date()
    if isinstance(value, dt.date):
        return value
    raise ValueError("not a date")


def _time(value: Any, zone: dt.tzinfo) -> dt.time | dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.time.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(zone) if value.tzinfo else value
    if isinstance(value, dt.time):
        return value
    raise ValueError("not a time")


def _instant(value: Any, zone: dt.tzinfo) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(zone) if value.tzinfo else value
    raise ValueError("not a date and time")


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None


def _currency_of(locale: str) -> str:
    """The currency of the locale's territory (``pt_BR`` -> BRL; ``es`` -> its likely ES)."""
    parsed = Locale.parse(locale)
    territory = parsed.territory
    if territory is None:
        likely = get_global("likely_subtags").get(parsed.language, "")
        territory = likely.rpartition("_")[2] or "US"
    found = get_territory_currencies(territory)
    return found[0] if found else "USD"


def _currency(value: Any, locale: str, zone: dt.tzinfo) -> str:
    if isinstance(value, Mapping):
        return format_currency(_number(value.get("amount")), str(value.get("currency")),
                               locale=locale)  # fmt: skip
    return format_currency(_number(value), _currency_of(locale), locale=locale)


FORMATS: Mapping[str, Callable[[Any, str, dt.tzinfo], str]] = {
    "date": lambda v, locale, zone: format_date(_date(v, zone), format="full", locale=locale),
    "time": lambda v, locale, zone: format_time(_time(v, zone), format="short", locale=locale),
    "datetime": lambda v, locale, zone: format_datetime(
        _instant(v, zone), format="medium", locale=locale
    ),
    "number": lambda v, locale, zone: format_decimal(_number(v), locale=locale),
    "currency": _currency,
}
"""The named formats a placeholder may use, ``{name:format}``:

- ``date``: an ISO date (``"2026-12-12"``, what ``validators.date()`` saves) or date-time,
  as the locale writes a full date ("Saturday, December 12, 2026");
- ``time``: ``"15:30"`` or an ISO date-time, as the locale writes a time ("3:30 PM");
- ``datetime``: an ISO date-time, in the conversation's time zone;
- ``number``: a number with the locale's separators ("1.234,5");
- ``currency``: an amount in the locale's currency, or ``{"amount", "currency"}``.
"""


def format_value(value: Any, kind: str, *, locale: str = "en", timezone: dt.tzinfo = dt.UTC) -> str:
    """``value`` through the named format ``kind`` in ``locale``.

    Raises:
        TemplateError: ``value`` cannot be shown that way.
    """
    try:
        return FORMATS[kind](value, locale, timezone)
    except (ValueError, TypeError, UnknownLocaleError, KeyError) as exc:
        raise TemplateError(f"cannot show {type(value).__name__} as {kind}: {exc}") from None


def _plain(field: str) -> bool:
    if field.isidentifier():
        return True
    namespace, dot, name = field.partition(".")
    return bool(dot) and namespace in NAMESPACES and name.isidentifier()


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[tuple[str, str | None], ...]:
    """Split ``text`` into (literal, None) and ("", field) parts; cached, texts are few."""
    return tuple((literal, field) for literal, field, _ in _parse_formats(text))


@functools.lru_cache(maxsize=4096)
def _parse_formats(text: str) -> tuple[tuple[str, str | None, str], ...]:
    """Split ``text`` into (literal, None, "") and ("", field, format) parts."""
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(f"template {text!r}: {exc}") from None
    parsed: list[tuple[str, str | None, str]] = []
    for literal, field, spec, conversion in parts:
        if literal:
            parsed.append((literal, None, ""))
        if field is None:
            continue
        if spec and spec not in FORMATS and _plain(field) and not conversion:
            raise TemplateError(
                f"template {text!r}: {{{field}:{spec}}} is not a named format; use one of "
                + ", ".join(f"{{{field}:{name}}}" for name in FORMATS)
            )
        if not _plain(field) or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise TemplateError(
                f"template {text!r}: placeholder {shown} is not a plain name; only {{name}}, "
                "{dashboard.name} and {action.name} are allowed, with a named format such "
                "as {day:date} (no attribute access, indexing or conversions)"
            )
        parsed.append(("", field, spec or ""))
    return tuple(parsed)


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    if value is None:
        raise MissingValueError(name)
    return value


@frozen
class Template:
    """A text with ``{name}`` placeholders.

    Raises:
        TemplateError: at construction, when a placeholder is not a plain name.
    """

    text: str

    def __attrs_post_init__(self) -> None:
        _parse(self.text)

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholder names, in order of appearance."""
        return tuple(name for _, name in _parse(self.text) if name is not None)

    @property
    def formats(self) -> tuple[tuple[str, str], ...]:
        """``(name, format)`` of each placeholder (format ``""`` when it has none)."""
        return tuple((name, spec) for _, name, spec in _parse_formats(self.text) if name)

    def render(
        self, values: Mapping[str, Any], *, locale: str = "en", timezone: dt.tzinfo = dt.UTC
    ) -> str:
        """Fill the placeholders; named formats follow ``locale`` and ``timezone``.

        Raises:
            MissingValueError: a placeholder has no value (or the value ``None``).
            TemplateError: a value cannot be shown in its named format.
        """
        out: list[str] = []
        for literal, name, spec in _parse_formats(self.text):
            if name is None:
                out.append(literal)
                continue
            value = _lookup(values, name)
            shown = format_value(value, spec, locale=locale, timezone=timezone) if spec else value
            out.append(str(shown))
        return "".join(out)


def json_fields(value: Any) -> list[str]:
    """The placeholder names used by the string templates inside a JSON-like structure.

    Raises:
        TemplateError: when one of them is not a plain-name template.
    """
    if isinstance(value, str):
        return list(Template(value).fields)
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in json_fields(item)]
    if isinstance(value, list | tuple):
        return [name for item in value for name in json_fields(item)]
    return []


def fill_json(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill templates inside a JSON-like structure.

    A string that is exactly one placeholder (``"{age}"``) takes the value itself, so numbers
    stay numbers; other strings are rendered as text.

    Raises:
        MissingValueError: a placeholder has no value.
    """
    if isinstance(value, str):
        parsed = _parse_formats(value)
        if len(parsed) == 1 and parsed[0][1] is not None and not parsed[0][2]:
            return _lookup(values, parsed[0][1])
        return Template(value).render(values)
    if isinstance(value, Mapping):
        return {key: fill_json(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill_json(item, values) for item in value]
    return value

"""Typed access to the fields of one webhook item, failing with a readable reason.

Every helper raises :class:`ItemError` when a field is missing or has the wrong JSON type;
the parser turns that into a skipped item or an ``"unsupported"`` message, never a crash.
Values are never ``repr``-ed whole: a hostile payload may nest deeper than ``repr`` can go.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ItemError",
    "describe",
    "epoch",
    "number",
    "obj",
    "optional_bool",
    "optional_list",
    "optional_obj",
    "optional_str",
    "required_str",
    "show",
]

_SHOWN_CHARS = 40
_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    (Mapping, "an object"),
    (list, "a list"),
)


class ItemError(Exception):
    """One item of a payload is missing a field or has one of the wrong type.

    Internal: the parser catches it for every item, so it never reaches a caller.
    """


def describe(value: object) -> str:
    """Name the JSON type of ``value`` for an error line (``"a list"``, ``"null"``)."""
    for types, name in _JSON_TYPES:  # bool before int: True is an int to Python
        if isinstance(value, types):
            return name
    return f"a {type(value).__name__}"


def show(value: object) -> str:
    """A short, safe rendering of ``value``: a clipped string, else its type."""
    if isinstance(value, str):
        clipped = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "..."
        return repr(clipped)
    return describe(value)


def obj(value: object, what: str) -> Mapping[str, Any]:
    """``value`` itself when it is a JSON object."""
    if not isinstance(value, Mapping):
        raise ItemError(f"{what} is {describe(value)}, not an object")
    return value


def optional_obj(item: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """``item[key]`` when it is an object; ``None`` when absent or null."""
    value = item.get(key)
    return None if value is None else obj(value, f"{key!r}")


def optional_list(item: Mapping[str, Any], key: str) -> list[Any] | None:
    """``item[key]`` when it is a list; ``None`` when absent or null."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ItemError(f"{key!r} is {describe(value)}, not a list")
    return value


def required_str(item: Mapping[str, Any], key: str) -> str:
    """``item[key]`` when it is a non-empty string."""
    value = item.get(key)
    if value is None:
        raise ItemError(f"no {key!r}")
    if not isinstance(value, str) or not value:
        raise ItemError(f"{key!r} is {show(value)}, not a non-empty string")
    return value


def optional_str(item: Mapping[str, Any] | None, key: str) -> str | None:
    """``item[key]`` when it is a string; ``None`` when absent or null."""
    value = None if item is None else item.get(key)
    if value is not None and not isinstance(value, str):
        raise ItemError(f"{key!r} is {describe(value)}, not a string")
    return value


def optional_bool(item: Mapping[str, Any], key: str) -> bool | None:
    """``item[key]`` when it is a boolean; ``None`` when absent or null."""
    value = item.get(key)
    if value is not None and not isinstance(value, bool):
        raise ItemError(f"{key!r} is {describe(value)}, not a boolean")
    return value


def number(item: Mapping[str, Any], key: str) -> float:
    """``item[key]`` when it is a finite JSON number."""
    value = item.get(key)
    # bool is an int to Python but never a coordinate in JSON.
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ItemError(f"{key!r} is {describe(value)}, not a number")
    result = _finite(value)
    if result is None:
        raise ItemError(f"{key!r} is not a finite number")
    return result


def epoch(item: Mapping[str, Any], key: str) -> float | None:
    """``item[key]`` as epoch seconds; Meta sends a string of digits, a number is accepted."""
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ItemError(f"{key!r} is {describe(value)}, not epoch seconds")
    result = _finite(value)
    if result is None:
        raise ItemError(f"{key!r} is {show(value)}, not epoch seconds")
    return result


def _finite(value: str | float) -> float | None:
    """``value`` as a finite float, or ``None`` (``"nan"``, ``"1e999"``, ``10**400``, ``"x"``)."""
    try:
        result = float(value)
    except (ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None

"""Message templates: ``{name}`` placeholders filled from saved values, and nothing else.

``str.format`` would happily evaluate ``{user.__class__}`` or ``{items[0]}``; a template that
reaches into objects is a way to leak data, so only plain names are accepted, plus the two
namespaces of data that comes from outside the flow: ``{dashboard.name}`` and
``{action.name}``. The check happens when the flow class is defined, and so does the check
that every plain name is one the flow saves (see ``flowhq.statecharts.checks``).

A name with no value at run time raises :class:`~flowhq.errors.MissingValueError`: a user
never receives a message with a hole in it.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from flowhq.errors import MissingValueError

__all__ = ["NAMESPACES", "Template", "fill_json", "json_fields"]

_FORMATTER = string.Formatter()

NAMESPACES = ("dashboard", "action")
"""Prefixes of values that come from outside the flow (``{dashboard.first_name}``)."""


class TemplateError(ValueError):
    """A template uses something other than plain ``{name}`` placeholders."""


def _plain(field: str) -> bool:
    if field.isidentifier():
        return True
    namespace, dot, name = field.partition(".")
    return bool(dot) and namespace in NAMESPACES and name.isidentifier()


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[tuple[str, str | None], ...]:
    """Split ``text`` into (literal, None) and ("", field) parts; cached, texts are few."""
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(f"template {text!r}: {exc}") from None
    parsed: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parts:
        if literal:
            parsed.append((literal, None))
        if field is None:
            continue
        if not _plain(field) or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise TemplateError(
                f"template {text!r}: placeholder {shown} is not a plain name; only {{name}}, "
                "{dashboard.name} and {action.name} are allowed (no attribute access, "
                "indexing, conversions or format specs)"
            )
        parsed.append(("", field))
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

    def render(self, values: Mapping[str, Any]) -> str:
        """Fill the placeholders.

        Raises:
            MissingValueError: a placeholder has no value (or the value ``None``).
        """
        out: list[str] = []
        for literal, name in _parse(self.text):
            out.append(literal if name is None else str(_lookup(values, name)))
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
        parsed = _parse(value)
        if len(parsed) == 1 and parsed[0][1] is not None:
            return _lookup(values, parsed[0][1])
        return Template(value).render(values)
    if isinstance(value, Mapping):
        return {key: fill_json(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill_json(item, values) for item in value]
    return value

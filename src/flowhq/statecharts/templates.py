"""Message templates: ``{name}`` placeholders filled from saved values, and nothing else.

``str.format`` would happily evaluate ``{user.__class__}`` or ``{items[0]}``; a template that
reaches into objects is a way to leak data, so only plain identifiers are accepted, and the
check happens when the flow class is defined.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from attrs import frozen

__all__ = ["Template", "TemplateError", "check_json", "fill_json"]

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template uses something other than plain ``{name}`` placeholders."""


def _parse(text: str) -> tuple[tuple[str, str | None], ...]:
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(f"template {text!r}: {exc}") from None
    parsed: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parts:
        parsed.append((literal, None))
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise TemplateError(
                f"template {text!r}: placeholder {shown} is not a plain name; only {{name}} "
                "is allowed (no attribute access, indexing, conversions or format specs)"
            )
        parsed.append(("", field))
    return tuple(parsed)


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
        """Fill the placeholders; a name with no value renders as an empty string."""
        out: list[str] = []
        for literal, name in _parse(self.text):
            out.append(literal)
            if name is not None:
                value = values.get(name)
                out.append("" if value is None else str(value))
        return "".join(out)


def check_json(value: Any) -> None:
    """Validate every string template inside a JSON-like structure.

    Raises:
        TemplateError: when one of them is not a plain-name template.
    """
    if isinstance(value, str):
        Template(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            check_json(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item)


def fill_json(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill templates inside a JSON-like structure.

    A string that is exactly one placeholder (``"{age}"``) takes the value itself, so numbers
    stay numbers; other strings are rendered as text.
    """
    if isinstance(value, str):
        parsed = _parse(value)
        if len(parsed) == 2 and parsed[0] == ("", None) and parsed[1][1] is not None:
            return values.get(parsed[1][1])
        return Template(value).render(values)
    if isinstance(value, Mapping):
        return {key: fill_json(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill_json(item, values) for item in value]
    return value

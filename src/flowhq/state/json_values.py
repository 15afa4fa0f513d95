"""Values a conversation can store: what JSON holds, checked when a component saves it.

A value the commit cannot encode (a ``datetime``, a set, an object) must fail inside the
component that saved it, through the ErrorHandler and naming the state, not later at the
commit after the step's side effects ran.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "check_json_value", "has_lone_surrogate", "storable_copy"]

MAX_DEPTH = 64
"""Deepest nesting of lists and objects a saved value may have."""


def check_json_value(value: Any, what: str) -> None:
    """Check that ``value`` is JSON: dicts with string keys, lists, str, int, float, bool, None.

    Raises:
        TypeError: naming ``what`` and the offending part.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TypeError(f"{what}: nested deeper than {MAX_DEPTH} levels")
        kind = type(item)
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str:
                    raise TypeError(f"{what}{path}: key {key!r} is not a string")
                _check_text(key, what, path)
                stack.append((inner, f"{path}[{key!r}]", depth + 1))
        elif kind in (list, tuple):
            stack.extend((inner, f"{path}[{n}]", depth + 1) for n, inner in enumerate(item))
        else:
            _check_scalar(item, what, path)


def _check_scalar(item: Any, what: str, path: str) -> None:
    kind = type(item)
    if kind is str:
        _check_text(item, what, path)
    elif kind is int:
        if not -(2**63) <= item < 2**64:  # what the document's JSON encoder takes
            raise TypeError(f"{what}{path}: {item} is too large to store (64 bits at most)")
    elif kind is float:
        if not math.isfinite(item):
            raise TypeError(f"{what}{path}: {item!r} is not a JSON number")
    elif kind is not bool and item is not None:
        raise TypeError(
            f"{what}{path}: a {kind.__name__} cannot be stored (use str, int, float, bool, "
            "None, lists and dicts with string keys)"
        )


def storable_copy(value: Any, what: str) -> Any:
    """A private copy of ``value`` exactly as it will load again (tuples become lists).

    Raises:
        TypeError: naming ``what`` and the part JSON cannot hold (see :func:`check_json_value`).
    """
    check_json_value(value, what)
    return orjson.loads(orjson.dumps(value))


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: valid in Python and JSON, not in UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _check_text(text: str, what: str, path: str) -> None:
    if has_lone_surrogate(text):
        raise TypeError(f"{what}{path}: text with a lone surrogate cannot be stored")

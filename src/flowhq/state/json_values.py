"""Values a conversation can store: what JSON holds, checked when a component saves it.

A value the commit cannot encode (a ``datetime``, a set, an object) must fail inside the
component that saved it, through the ErrorHandler and naming the state, not later at the
commit after the step's side effects ran.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_DEPTH", "check_json_value"]

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
        if kind is str:
            _check_text(item, what, path)
        elif kind in (int, bool) or item is None:
            continue
        elif kind is float:
            if not math.isfinite(item):
                raise TypeError(f"{what}{path}: {item!r} is not a JSON number")
        elif kind is dict:
            for key, inner in item.items():
                if type(key) is not str:
                    raise TypeError(f"{what}{path}: key {key!r} is not a string")
                _check_text(key, what, path)
                stack.append((inner, f"{path}[{key!r}]", depth + 1))
        elif kind in (list, tuple):
            stack.extend((inner, f"{path}[{n}]", depth + 1) for n, inner in enumerate(item))
        else:
            raise TypeError(
                f"{what}{path}: a {kind.__name__} cannot be stored (use str, int, float, bool, "
                "None, lists and dicts with string keys)"
            )


def _check_text(text: str, what: str, path: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise TypeError(f"{what}{path}: text with a lone surrogate cannot be stored") from None

"""The ``pybabel extract`` method for flows: every text a flow shows is a message id.

Registered as the Babel extraction method ``flowhq`` (an entry point), so a team runs the
tools it knows (docs/i18n.md)::

    # babel.cfg
    [flowhq: bot/**.py]

    pybabel extract -F babel.cfg -o messages.pot .
    pybabel init -i messages.pot -d locales -l es
    pybabel compile -d locales

It reads the source without importing it: string literals given to the components (the
text, ``error_text``, ``yes``/``no``, ``busy_text``, ``menu_label``, reminders' texts,
option titles and descriptions), to ``one_of(...)``, the flow attributes ``restart_text``
and ``stale_button_text``, and calls of the usual gettext keywords (``_("...")``). A
text kept in a constant is found when marked: ``SLOTS = {"09:30": mark("9:30 am")}``
(:func:`mark` returns its text unchanged).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

__all__ = ["COMPONENTS", "TEXT_KEYWORDS", "extract", "mark"]

COMPONENTS = frozenset(
    {"Message", "Prompt", "Confirm", "Choice", "Wait", "Handoff", "Component", "ApiCall"}
)
"""Calls whose first argument is a shown text (an ApiCall's is its URL: left out)."""
TEXT_KEYWORDS = frozenset(
    {"text", "error_text", "yes", "no", "busy_text", "menu_label", "wait_text", "header", "footer"}
)
"""Keyword arguments of the components that are shown texts."""
_MAPPINGS = frozenset({"options", "descriptions"})
_FLOW_TEXTS = frozenset({"restart_text", "stale_button_text"})

Extracted = tuple[int, str | None, str, list[str]]


def mark(text: str) -> str:
    """Mark ``text`` (kept in a constant) for ``pybabel extract``; returns it unchanged."""
    return text


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return node.value
    return None


def _strings_in(node: ast.expr) -> Iterator[ast.Constant]:
    """The string literals directly inside a list, tuple or dict (its values)."""
    items: list[ast.expr | None] = []
    if isinstance(node, ast.Dict):
        items = list(node.values)
    elif isinstance(node, ast.List | ast.Tuple):
        items = list(node.elts)
    for item in items:
        if _string(item) is not None:
            assert isinstance(item, ast.Constant)
            yield item


def _call_texts(call: ast.Call, keywords: Collection[str]) -> Iterator[ast.Constant]:
    name = _name(call.func)
    if name == "ApiCall":
        return
    named = name in COMPONENTS or name in keywords or name == "mark"
    if named and call.args and _string(call.args[0]):
        first = call.args[0]
        assert isinstance(first, ast.Constant)
        yield first
    if name == "one_of":
        yield from (a for a in call.args if isinstance(a, ast.Constant) and _string(a))
    if name not in COMPONENTS:
        return
    for keyword in call.keywords:
        if keyword.arg in TEXT_KEYWORDS and _string(keyword.value):
            assert isinstance(keyword.value, ast.Constant)
            yield keyword.value
        elif keyword.arg in _MAPPINGS:
            yield from _strings_in(keyword.value)
        elif keyword.arg == "reminders" and isinstance(keyword.value, ast.List | ast.Tuple):
            for pair in keyword.value.elts:
                if isinstance(pair, ast.Tuple | ast.List) and len(pair.elts) == 2:
                    yield from _strings_in(ast.Tuple(elts=[pair.elts[1]]))


def _flow_texts(node: ast.ClassDef) -> Iterator[ast.Constant]:
    for statement in node.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            if any(_name(t) in _FLOW_TEXTS for t in targets) and _string(value):
                assert isinstance(value, ast.Constant)
                yield value


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any] | Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Babel's extraction method: ``(line, function, message, comments)`` of each text.

    Args:
        fileobj: The Python source, opened in binary mode.
        keywords: Gettext function names (``_``, ``gettext``) whose first argument is a text.
        comment_tags: Unused (translator comments are not read).
        options: ``encoding`` of the source (default UTF-8).
    """
    source = fileobj.read().decode(str(options.get("encoding", "utf-8")))
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found += [(c.lineno, str(c.value)) for c in _call_texts(node, keywords)]
        elif isinstance(node, ast.ClassDef):
            found += [(c.lineno, str(c.value)) for c in _flow_texts(node)]
    for lineno, text in sorted(found):
        yield lineno, None, text, []

"""``flowhq check --locales``: translations that would break a flow on its channel.

A translation may not drop or invent a placeholder (``{name}`` filled from saved values:
a dropped one loses information, an invented one has no value), must stay a valid
template, and must fit the channel's limits where the text becomes a button title, a list
row, a row description, a list button label or the body of an interactive message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from attrs import frozen

from flowhq.components import Choice, Component, Confirm, Prompt
from flowhq.components.choice import MENU_LABEL
from flowhq.i18n.catalogs import Translations, builtin_translations
from flowhq.statecharts.model import all_states
from flowhq.statecharts.templates import Template, TemplateError

__all__ = ["Shown", "check_translations", "shown_texts"]


@frozen
class Shown:
    """A text a flow shows, where, and as what (the channel's limit applies to ``kind``).

    Attributes:
        text: The message id (the source text).
        where: ``Flow.state`` (or ``Flow`` for flow-wide texts).
        kind: ``"text"``, ``"body"`` (of a message with options), ``"button"``, ``"row"``,
            ``"description"`` or ``"menu"`` (the label of the list button).
    """

    text: str
    where: str
    kind: str = "text"


def _choice_texts(state: Choice, where: str) -> Iterator[Shown]:
    yield Shown(state.text.text, where, "body")
    kind = "button" if len(state.options) <= 3 else "row"
    yield from (Shown(title, where, kind) for title in state.options.values())
    yield from (Shown(d, where, "description") for d in state.descriptions.values() if d)
    yield Shown(state.menu_label or MENU_LABEL, where, "menu")


def _state_texts(state: Component, where: str) -> Iterator[Shown]:
    if isinstance(state, Choice):
        yield from _choice_texts(state, where)
    elif isinstance(state, Confirm):
        yield Shown(state.text.text, where, "body")
        yield Shown(state.yes_title, where, "button")
        yield Shown(state.no_title, where, "button")
    elif state.text.text and state.kind not in ("ApiCall", "Action"):
        yield Shown(state.text.text, where)
    if isinstance(state, Prompt) and state.error_text is not None:
        yield Shown(state.error_text.text, where)
    busy = getattr(state, "busy_text", None)
    if isinstance(busy, Template):
        yield Shown(busy.text, where)
    for spec in state.timers:
        if isinstance(spec.text, Template):
            yield Shown(spec.text.text, where)


def shown_texts(flow_cls: Any) -> list[Shown]:
    """Every text ``flow_cls`` shows, with where and as what."""
    name = flow_cls.__name__
    found = [Shown(flow_cls.restart_text, name), Shown(flow_cls.stale_button_text, name)]
    for state in all_states(flow_cls):
        if isinstance(state, Component):
            found += _state_texts(state, f"{name}.{state.id}")
    return found


def _placeholders(source: str, translated: str) -> str | None:
    """What is wrong with the placeholders of ``translated`` (``None``: nothing)."""
    try:
        fields = set(Template(translated).fields)
    except TemplateError as exc:
        return f"is not a valid template ({exc})"
    wanted = set(Template(source).fields)
    dropped, invented = sorted(wanted - fields), sorted(fields - wanted)
    parts = [f"drops {{{n}}}" for n in dropped] + [f"invents {{{n}}}" for n in invented]
    return ", ".join(parts) or None


@frozen
class _Limits:
    """Longest text by kind, and how a channel counts a text's length."""

    by_kind: Mapping[str, int]
    measure: Callable[[str], int] = len
    unit: str = "characters"


def _problems(shown: Shown, locale: str, translated: str, limits: _Limits) -> list[str]:
    head = f"{locale}: {shown.where}: {shown.text!r} -> {translated!r}"
    problems = []
    wrong = _placeholders(shown.text, translated)
    if wrong:
        problems.append(f"{head} {wrong}")
    limit = limits.by_kind.get(shown.kind)
    size = limits.measure(translated) if limit is not None else 0
    if limit is not None and size > limit:
        # Only texts whose count differs from len() (emoji, for UTF-16) need the unit named.
        length = f"has {size} characters"
        if size != len(translated):
            length = f"is {size} {limits.unit} long"
        problems.append(f"{head} {length}; a {shown.kind} allows {limit}")
    return problems


def check_translations(
    flows: Sequence[Any],
    translations: Translations,
    *,
    limits: Mapping[str, int] | None = None,
    measure: Callable[[str], int] = len,
    unit: str = "characters",
) -> list[str]:
    """Problems of ``translations`` (and flowhq's own, where they apply) for ``flows``.

    Args:
        flows: The flow classes whose texts are checked.
        translations: The team's catalogs.
        limits: Longest text by kind (``"button"``, ``"row"``, ``"description"``,
            ``"menu"``, ``"body"``); a channel's limits, e.g. WhatsApp's.
        measure: How the channel counts a text's length (WhatsApp's checks pass
            ``utf16_length``: UTF-16 code units, an emoji counting 2).
        unit: What ``measure`` counts, as the problems say it.

    Returns:
        One line per problem: the locale, where, the source and the translation.
    """
    counted = _Limits(dict(limits or {}), measure, unit)
    merged = translations | builtin_translations()
    problems: list[str] = []
    texts = [shown for flow in flows for shown in shown_texts(flow)]
    for locale in translations.locales:
        for shown in texts:
            translated = merged.lookup(locale, shown.text)
            if translated:
                problems += _problems(shown, locale, translated, counted)
        for msgid, translated in translations.catalog(locale).items():
            if msgid in builtin_translations().catalog("en"):  # overrides flowhq's own
                problems += _problems(Shown(msgid, "flowhq"), locale, translated, _Limits({}))
    return list(dict.fromkeys(problems))

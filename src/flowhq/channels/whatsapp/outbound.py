"""Render :class:`~flowhq.messaging.types.OutboundMessage` as WhatsApp Cloud API payloads.

A message becomes one or more ``POST /messages`` bodies:

- no options: ``text`` message(s), split at :data:`TEXT_LIMIT` characters;
- 1-3 options: an ``interactive`` message with reply buttons;
- 4-10 options: an ``interactive`` list with one section;
- more than 10: a list page of :data:`PAGE_SIZE` options and a "More…" row whose id
  (see :func:`parse_more`) asks for the next page.

Texts filled in at run time may not fit; rendering then shortens titles with "…", makes them
unique, sends an over-long question as text before the buttons, and logs a warning. It never
returns a payload WhatsApp would refuse. Lengths are counted in UTF-16 code units (an emoji
beyond U+FFFF counts as 2), the stricter reading of Meta's undefined "characters", and cuts
never break a grapheme cluster such as a flag or a ZWJ family emoji
(:mod:`~flowhq.channels.whatsapp.lengths`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import attrs

from flowhq.channels.whatsapp.lengths import prefix_end, suffix_start, utf16_length
from flowhq.components import Choice, Confirm
from flowhq.messaging.types import (
    MAX_TAG_LENGTH,
    MEDIA_KINDS,
    MORE_PREFIX,
    TAG_SEPARATOR,
    Media,
    OutboundMessage,
    Template,
    decode_button_id,
    encode_button_id,
)
from flowhq.statecharts.model import all_states

__all__ = [
    "BODY_LIMIT",
    "BUTTON_ID_LIMIT",
    "BUTTON_TITLE_LIMIT",
    "CAPTIONED",
    "CAPTION_LIMIT",
    "DESCRIPTION_LIMIT",
    "FOOTER_LIMIT",
    "HEADER_LIMIT",
    "LIST_BODY_LIMIT",
    "MAX_BUTTONS",
    "MAX_ROWS",
    "MEDIA_KINDS",
    "MENU_LABEL_LIMIT",
    "MORE_PREFIX",
    "MORE_TITLE",
    "PAGE_SIZE",
    "ROW_ID_LIMIT",
    "ROW_TITLE_LIMIT",
    "TAG_SUFFIX_LIMIT",
    "TEXT_LIMIT",
    "check_flow",
    "is_user_id",
    "parse_more",
    "render",
    "shorten",
    "split_text",
    "template_payload",
    "unique_titles",
]

logger = logging.getLogger("flowhq.channels.whatsapp")

_USER_ID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")

# Every limit is in UTF-16 code units (utf16_length), Meta's "characters" read strictly.
TEXT_LIMIT = 4096
"""Characters in one text message body."""
HEADER_LIMIT = 60
"""Characters in the text header of an interactive message."""
FOOTER_LIMIT = 60
"""Characters in the footer of an interactive message."""
CAPTION_LIMIT = 1024
"""Characters in the caption of an image, video or document."""
CAPTIONED = frozenset({"image", "video", "document"})
"""Media kinds that take a caption (audio and stickers do not)."""
BODY_LIMIT = 1024
"""Characters in the body of an interactive message with reply buttons."""
LIST_BODY_LIMIT = 4096
"""Characters in the body of an interactive list message."""
MAX_BUTTONS = 3
"""Reply buttons in one interactive ``button`` message."""
BUTTON_TITLE_LIMIT = 20
"""Characters in a reply button title."""
BUTTON_ID_LIMIT = 256
"""Characters in a reply button id."""
MENU_LABEL_LIMIT = 20
"""Characters in the label of the button that opens a list."""
MAX_ROWS = 10
"""Rows in one list message (all sections together)."""
ROW_TITLE_LIMIT = 24
"""Characters in a list row title."""
DESCRIPTION_LIMIT = 72
"""Characters in a list row description."""
ROW_ID_LIMIT = 200
"""Characters in a list row id."""
TAG_SUFFIX_LIMIT = len(TAG_SEPARATOR) + MAX_TAG_LENGTH
"""Characters :func:`~flowhq.messaging.types.encode_button_id` may add: ``~`` and a tag."""
PAGE_SIZE = MAX_ROWS - 1
"""Options on one page of a long list; the last row is "More…"."""
MORE_TITLE = "More…"
"""Title of the row that asks for the next page of a long list."""
DEFAULT_MENU_LABEL = "Choose"
"""Label of the list button when the message has no ``menu_label``."""
ELLIPSIS = "…"

_SPACES = re.compile(r"\s+")


class _UnsendableIdError(ValueError):
    """An option id longer than WhatsApp allows, even without its tag."""


def render(
    message: OutboundMessage, to: str, *, preview_url: bool = False, offset: int = 0
) -> list[dict[str, Any]]:
    """Turn ``message`` into the Cloud API ``/messages`` payloads, in sending order.

    Args:
        message: The reply to render.
        to: The recipient: a WhatsApp phone id, or a business-scoped user id (sent as
            ``recipient``, as Meta wants for users known only by it).
        preview_url: Let WhatsApp show a link preview in text messages.
        offset: With more than :data:`MAX_ROWS` options, the first option of the page shown.

    Returns:
        The JSON bodies to POST; empty when there is nothing to send (an empty text).
    """
    payloads = _render(message, to, preview_url=preview_url, offset=offset)
    if message.quote is not None and payloads:  # shown as a reply to the user's message
        payloads[0]["context"] = {"message_id": message.quote}
    if message.header is not None or message.footer is not None:
        for payload in payloads:
            _frame(payload, message.header, message.footer)
    return payloads


def _frame(payload: dict[str, Any], header: str | None, footer: str | None) -> None:
    """Add the header and footer lines to an interactive message with options."""
    interactive = payload.get("interactive")
    if not isinstance(interactive, dict) or interactive.get("type") not in ("button", "list"):
        return
    if header:
        interactive["header"] = {"type": "text", "text": shorten(header, HEADER_LIMIT)}
    if footer:
        interactive["footer"] = {"text": shorten(footer, FOOTER_LIMIT)}


def _render(
    message: OutboundMessage, to: str, *, preview_url: bool, offset: int
) -> list[dict[str, Any]]:
    if message.template is not None and not message.text:
        return [_envelope(to, "template", template_payload(message.template))]
    if message.media is not None:
        return _with_media(message, message.media, to, preview_url=preview_url, offset=offset)
    if message.request_location and not message.buttons:
        before, body = _fit_body(message.text, None, BODY_LIMIT)
        asking = {
            "type": "location_request_message",
            "body": {"text": body},
            "action": {"name": "send_location"},
        }
        return [*(_text(to, c, preview_url) for c in before), _envelope(to, "interactive", asking)]
    if not message.buttons:
        return [_text(to, chunk, preview_url) for chunk in split_text(message.text, TEXT_LIMIT)]
    options = _dedupe(message)
    limit = BODY_LIMIT if len(options) <= MAX_BUTTONS else LIST_BODY_LIMIT
    before, body = _fit_body(message.text, message.menu_label, limit)
    try:
        if len(options) <= MAX_BUTTONS:
            interactive = _buttons(body, options, message.tag)
        else:
            interactive = _list(body, options, message, offset)
    except _UnsendableIdError as exc:
        # Flows accept a typed option number or title, so numbered text still works.
        logger.warning("WhatsApp: %s; sending the options as numbered text", exc)
        return [
            _text(to, chunk, preview_url) for chunk in split_text(message.plain_text(), TEXT_LIMIT)
        ]
    payloads = [_text(to, chunk, preview_url) for chunk in before]
    payloads.append(_envelope(to, "interactive", interactive))
    return payloads


def _with_media(
    message: OutboundMessage, media: Media, to: str, *, preview_url: bool, offset: int
) -> list[dict[str, Any]]:
    """A media message; the text is its caption when it fits, else it goes first."""
    kind = media.kind if media.kind in MEDIA_KINDS else "document"
    content: dict[str, Any] = {"link": media.link} if media.link else {"id": media.id}
    caption = media.caption or (message.text if not message.buttons else "")
    before: list[dict[str, Any]] = []
    if caption and (kind not in CAPTIONED or utf16_length(caption) > CAPTION_LIMIT):
        before = [_text(to, chunk, preview_url) for chunk in split_text(caption, TEXT_LIMIT)]
    elif caption:
        content["caption"] = caption
    if kind == "document" and media.filename:
        content["filename"] = media.filename
    after: list[dict[str, Any]] = []
    if message.buttons:  # the question follows its picture
        plain = attrs.evolve(message, media=None)
        after = _render(plain, to, preview_url=preview_url, offset=offset)
    return [*before, _envelope(to, kind, content), *after]


def template_payload(template: Template) -> dict[str, Any]:
    """The ``template`` object of a Cloud API message sending ``template``.

    Its ``params`` fill the body's ``{{1}}``, ``{{2}}``, ... in order; its ``buttons`` are
    the payloads of its quick-reply buttons, by index.
    """
    components: list[dict[str, Any]] = []
    if template.params:
        parameters = [{"type": "text", "text": param} for param in template.params]
        components.append({"type": "body", "parameters": parameters})
    for index, payload in enumerate(template.buttons):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    content: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if components:
        content["components"] = components
    return content


def parse_more(payload: str) -> int | None:
    """The page offset a "More…" row asks for, or ``None`` for any other payload.

    Accepts the row id with or without its question tag.
    """
    option, _ = decode_button_id(payload)
    if not option.startswith(MORE_PREFIX):
        return None
    digits = option.removeprefix(MORE_PREFIX)
    return int(digits) if digits.isascii() and digits.isdigit() else None


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into chunks of at most ``limit`` UTF-16 code units.

    Cuts at the last line break that fits, else the last space, else at the last grapheme
    cluster boundary that fits (an emoji, a flag or a letter with its accent stays whole).
    Chunks that would be blank are dropped, so an empty text gives no chunk; otherwise only
    the one line break or space cut at is left out.

    Raises:
        ValueError: ``limit`` is below 2, too small for a character beyond U+FFFF.
    """
    if limit < 2:
        raise ValueError(f"split_text needs a limit of at least 2 UTF-16 units, got {limit}")
    chunks: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        cut = _cut_point(rest, limit)
        chunks.append(rest[:cut])
        rest = rest[cut:]
        # The separator we cut at is not worth a message of its own.
        if rest[:1] in ("\n", " "):
            rest = rest[1:]
    chunks.append(rest)
    return [chunk for chunk in chunks if chunk.strip()]


def _cut_point(text: str, limit: int) -> int:
    end = prefix_end(text, limit)  # text[:end] fits; a separator at `end` is dropped
    for separator in ("\n", " "):
        cut = text.rfind(separator, 0, end + 1)
        if cut > 0:
            return cut
    return end


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` UTF-16 units with a trailing "…" when too long.

    The cut falls between grapheme clusters (:func:`split_text` says how).
    """
    text = _SPACES.sub(" ", text).strip()
    if utf16_length(text) <= limit:
        return text
    return text[: prefix_end(text, limit - utf16_length(ELLIPSIS))].rstrip() + ELLIPSIS


def unique_titles(titles: Sequence[str], limit: int, *, taken: Sequence[str] = ()) -> list[str]:
    """Make ``titles`` distinct (ignoring case) by numbering repeats, within ``limit``.

    Args:
        titles: Titles already shortened to ``limit``.
        limit: The longest title allowed.
        taken: Titles in use elsewhere in the message (e.g. "More…").
    """
    seen = {title.casefold() for title in taken}
    result: list[str] = []
    for title in titles:
        candidate, n = title, 1
        while candidate.casefold() in seen:
            n += 1
            suffix = f" {n}"
            candidate = shorten(title, limit - utf16_length(suffix)) + suffix
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def is_user_id(address: str) -> bool:
    """Whether ``address`` is a business-scoped user id (``US.1349…``), not a phone number.

    A BSUID is a two-letter country code, a dot, and letters and digits (a parent BSUID has
    ``ENT.`` after the code); a WhatsApp phone id has digits only.
    """
    return _USER_ID.match(address) is not None


def _envelope(to: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    # Meta takes a phone number as `to` and a business-scoped user id as `recipient`.
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "recipient" if is_user_id(to) else "to": to,
        "type": kind,
        kind: content,
    }


def _text(to: str, body: str, preview_url: bool) -> dict[str, Any]:
    return _envelope(to, "text", {"preview_url": preview_url, "body": body})


def _dedupe(message: OutboundMessage) -> list[tuple[str, str, str | None]]:
    """Options as ``(id, title, description)``, each id once (WhatsApp refuses repeats)."""
    descriptions = list(message.descriptions) + [None] * len(message.buttons)
    seen: set[str] = set()
    options: list[tuple[str, str, str | None]] = []
    for (option, title), description in zip(message.buttons, descriptions, strict=False):
        if option in seen:
            logger.warning("WhatsApp: dropped a repeated option id %r", option)
            continue
        seen.add(option)
        options.append((option, title, description))
    return options


def _fit_body(text: str, menu_label: str | None, limit: int) -> tuple[list[str], str]:
    """Split a question into text messages to send first and an interactive body that fits."""
    size = utf16_length(text)
    if size <= limit and text.strip():
        return [], text
    if not text.strip():
        # WhatsApp refuses an interactive message without a body.
        return [], shorten(menu_label or DEFAULT_MENU_LABEL, limit)
    logger.warning(
        "WhatsApp: a question of %d UTF-16 units exceeds the %d-unit interactive body; "
        "sending it as text first",
        size,
        limit,
    )
    # Keep the last lines (usually the question itself) with the buttons when they fit:
    # the tail after a line break at or after suffix_start - 1 is within the limit.
    start = text.find("\n", suffix_start(text, limit) - 1)
    tail = text[start + 1 :] if start >= 0 else ""
    if tail.strip():
        return split_text(text[:start], TEXT_LIMIT), tail
    return split_text(text, TEXT_LIMIT), shorten(menu_label or DEFAULT_MENU_LABEL, limit)


def _option_id(option: str, tag: str | None, limit: int) -> str:
    tagged = encode_button_id(option, tag)
    if utf16_length(tagged) <= limit:
        return tagged
    if utf16_length(option) <= limit:
        # An untagged tap still works; it just cannot be told apart from an older question's.
        logger.warning("WhatsApp: option id %r is too long to carry its tag", option[:40])
        return option
    raise _UnsendableIdError(
        f"option id of {utf16_length(option)} UTF-16 units exceeds WhatsApp's {limit}"
    )


def _titles(
    options: Sequence[tuple[str, str, str | None]], limit: int, *, taken: Sequence[str] = ()
) -> list[str]:
    # An empty title is refused; the option id is better than nothing.
    shortened = [shorten(title, limit) or shorten(option, limit) for option, title, _ in options]
    if any(utf16_length(_SPACES.sub(" ", title).strip()) > limit for _, title, _ in options):
        logger.warning("WhatsApp: shortened option titles to %d characters", limit)
    titles = unique_titles(shortened, limit, taken=taken)
    if titles != shortened:
        logger.warning("WhatsApp: option titles were not unique; numbered the repeats")
    return titles


def _buttons(
    body: str, options: Sequence[tuple[str, str, str | None]], tag: str | None
) -> dict[str, Any]:
    titles = _titles(options, BUTTON_TITLE_LIMIT)
    buttons = [
        {"type": "reply", "reply": {"id": _option_id(option, tag, BUTTON_ID_LIMIT), "title": t}}
        for (option, _, _), t in zip(options, titles, strict=True)
    ]
    return {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}


def _list(
    body: str,
    options: Sequence[tuple[str, str, str | None]],
    message: OutboundMessage,
    offset: int,
) -> dict[str, Any]:
    more: int | None = None
    if len(options) > MAX_ROWS:
        if not 0 <= offset < len(options):
            # A stale "More…" tap from a longer menu: start over rather than send no rows.
            logger.warning("WhatsApp: list offset %d out of range; showing the first page", offset)
            offset = 0
        if offset + PAGE_SIZE < len(options):
            more = offset + PAGE_SIZE
        options = options[offset : offset + PAGE_SIZE]
    more_title = shorten(message.more_label or MORE_TITLE, ROW_TITLE_LIMIT)
    taken = [more_title] if more is not None else []
    titles = _titles(options, ROW_TITLE_LIMIT, taken=taken)
    rows: list[dict[str, Any]] = []
    for (option, _, description), title in zip(options, titles, strict=True):
        row = {"id": _option_id(option, message.tag, ROW_ID_LIMIT), "title": title}
        if description and description.strip():
            row["description"] = shorten(description, DESCRIPTION_LIMIT)
            if row["description"] != _SPACES.sub(" ", description).strip():
                logger.warning("WhatsApp: shortened a row description to %d", DESCRIPTION_LIMIT)
        rows.append(row)
    if more is not None:
        more_id = _option_id(f"{MORE_PREFIX}{more}", message.tag, ROW_ID_LIMIT)
        rows.append({"id": more_id, "title": more_title})
    label = shorten(message.menu_label or "", MENU_LABEL_LIMIT) or DEFAULT_MENU_LABEL
    return {
        "type": "list",
        "body": {"text": body},
        "action": {"button": label, "sections": [{"rows": rows}]},
    }


def check_flow(flow_cls: type) -> list[str]:
    """Find a flow's texts and options that cannot be shown on WhatsApp as written.

    Looks at every ``Choice`` and ``Confirm`` state: titles longer than a button or list row
    allows, repeated titles, option ids too long once a question tag is added, and a question
    longer than an interactive body. Lengths are UTF-16 code units, as when rendering (an
    emoji beyond U+FFFF counts as 2; the problem line says so when it matters). Placeholders
    are counted as written; values filled in at run time are handled when rendering.

    Args:
        flow_cls: The :class:`~flowhq.Flow` subclass to check.

    Returns:
        One readable line per problem, naming the flow and the state.
    """
    problems: list[str] = []
    for state in all_states(flow_cls):
        where = f"{flow_cls.__name__}.{state.id}"
        if isinstance(state, Choice):
            titles = list(state.options.values())
            # Choice sends its question followed by the numbered options as the body.
            lines = [f"{n}. {title}" for n, title in enumerate(titles, start=1)]
            body = "\n".join([state.text.text, *lines])
            problems += _option_problems(where, list(state.options.items()), body)
        elif isinstance(state, Confirm):
            problems += _option_problems(where, list(state.buttons), state.text.text)
        else:
            continue
        for name, line, limit in (("header", state.header, HEADER_LIMIT),
                                  ("footer", state.footer, FOOTER_LIMIT)):  # fmt: skip
            if line is not None and utf16_length(line.text) > limit:
                problems.append(
                    f"{where}: {name} {shorten(line.text, 40)!r} {_size(line.text)}; "
                    f"WhatsApp allows {limit}"
                )
    return problems


def _size(text: str) -> str:
    """How long ``text`` is, for a problem line: in UTF-16 units when that differs from len()."""
    units = utf16_length(text)
    if units == len(text):
        return f"has {units} characters"
    return f"is {units} UTF-16 units long (characters beyond U+FFFF, like most emoji, count as 2)"


def _option_problems(where: str, options: Sequence[tuple[str, str]], body: str) -> list[str]:
    if len(options) <= MAX_BUTTONS:
        kind, title_limit, id_limit = "button", BUTTON_TITLE_LIMIT, BUTTON_ID_LIMIT
    else:
        kind, title_limit, id_limit = "list row", ROW_TITLE_LIMIT, ROW_ID_LIMIT
    problems: list[str] = []
    for option, title in options:
        if not title.strip():
            problems.append(f"{where}: option {option!r} has an empty {kind} title")
        elif utf16_length(title) > title_limit:
            problems.append(
                f"{where}: {kind} title {title!r} {_size(title)}; WhatsApp allows {title_limit}"
            )
        if utf16_length(option) + TAG_SUFFIX_LIMIT > id_limit:
            problems.append(
                f"{where}: option id {shorten(option, 40)!r} {_size(option)}; with a question "
                f"tag it can reach {utf16_length(option) + TAG_SUFFIX_LIMIT}, WhatsApp allows "
                f"{id_limit}"
            )
    folded = [title.strip().casefold() for _, title in options]
    repeated = sorted({title for title in folded if folded.count(title) > 1})
    if repeated:
        problems.append(f"{where}: {kind} titles repeat (WhatsApp needs them unique): {repeated}")
    limit, shape = (
        (BODY_LIMIT, "buttons") if len(options) <= MAX_BUTTONS else (LIST_BODY_LIMIT, "a list")
    )
    if utf16_length(body) > limit:
        problems.append(
            f"{where}: the question {_size(body)}; with {shape} WhatsApp allows "
            f"{limit} (the text would go out as a separate message first)"
        )
    return problems

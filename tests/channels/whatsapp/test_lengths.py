"""WhatsApp limits counted in UTF-16 code units: emoji-heavy texts at every boundary.

Meta never defines the "characters" of its limits; flowhq counts UTF-16 code units, never
fewer than code points. These tests count units on their own (``encode("utf-16-le")``), so
a renderer that counted code points (an astral emoji as 1) fails them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhq import Confirm, Flow, Message
from flowhq.channels.whatsapp import lengths, render
from flowhq.channels.whatsapp.lengths import prefix_end, suffix_start, utf16_length
from flowhq.channels.whatsapp.outbound import (
    BODY_LIMIT,
    BUTTON_ID_LIMIT,
    BUTTON_TITLE_LIMIT,
    CAPTION_LIMIT,
    DESCRIPTION_LIMIT,
    FOOTER_LIMIT,
    HEADER_LIMIT,
    LIST_BODY_LIMIT,
    MENU_LABEL_LIMIT,
    ROW_ID_LIMIT,
    ROW_TITLE_LIMIT,
    TEXT_LIMIT,
    check_flow,
    shorten,
    split_text,
    unique_titles,
)
from flowhq.cli import main
from flowhq.messaging.types import Media, OutboundMessage

TO = "4915112345678"

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, 11 units
FLAG = "\U0001f1e9\U0001f1ea"  # DE: two regional indicators, 4 units
ASTRAL = "\U0001f600"  # 1 code point, 2 units
COMBINING = "e\u0301"  # e + COMBINING ACUTE ACCENT: 2 code points, 2 units, one grapheme
THUMB = "\U0001f44d\U0001f3fd"  # thumbs up, medium skin tone: 4 units
HEART = "\u2764\ufe0f"  # BMP heart + VS16: 2 units
CLUSTERS = {
    "astral": ASTRAL,
    "family": FAMILY,
    "flag": FLAG,
    "combining": COMBINING,
    "skin tone": THUMB,
    "bmp": "x",
}


def units(text: str) -> int:
    """UTF-16 code units, counted independently of flowhq."""
    return len(text.encode("utf-16-le")) // 2


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def filled(size: int, cluster: str) -> str:
    """A text of exactly ``size`` UTF-16 units: ASCII padding, then whole ``cluster``s."""
    each = units(cluster)
    return "a" * (size % each) + cluster * (size // each)


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("") == 0
    assert utf16_length("plain") == 5
    assert utf16_length("é中…") == 3
    assert utf16_length(ASTRAL) == 2
    assert utf16_length(FAMILY) == 11
    assert utf16_length(FLAG) == 4
    assert utf16_length(COMBINING) == 2
    assert utf16_length(HEART) == 2
    assert utf16_length("\ud83d") == 1  # a lone surrogate (broken input) does not raise


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_utf16_length_is_the_utf16_encoding_and_never_below_len(text: str) -> None:
    assert utf16_length(text) == len(text.encode("utf-16-le", "surrogatepass")) // 2
    assert utf16_length(text) >= len(text)


# Every limit, at limit - 1, limit and limit + 1 units


def _interactive(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in payloads if p["type"] == "interactive")
    return found["interactive"]


def _rows(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _interactive(payloads)["action"]["sections"][0]["rows"]
    return rows


FOUR = [("o1", "One"), ("o2", "Two"), ("o3", "Three"), ("o4", "Four")]
Slot = tuple[int, Callable[[str], OutboundMessage], Callable[[list[dict[str, Any]]], list[str]]]
SLOTS: dict[str, Slot] = {
    "text": (
        TEXT_LIMIT,
        OutboundMessage,
        lambda ps: [p["text"]["body"] for p in ps],
    ),
    "button title": (
        BUTTON_TITLE_LIMIT,
        lambda t: OutboundMessage("Pick", [("a", t), ("b", "No")]),
        lambda ps: [_interactive(ps)["action"]["buttons"][0]["reply"]["title"]],
    ),
    "button body": (
        BODY_LIMIT,
        lambda t: OutboundMessage(t, [("a", "A")]),
        lambda ps: [_interactive(ps)["body"]["text"]],
    ),
    "list body": (
        LIST_BODY_LIMIT,
        lambda t: OutboundMessage(t, FOUR),
        lambda ps: [_interactive(ps)["body"]["text"]],
    ),
    "row title": (
        ROW_TITLE_LIMIT,
        lambda t: OutboundMessage("Pick", [("a", t), *FOUR]),
        lambda ps: [_rows(ps)[0]["title"]],
    ),
    "row description": (
        DESCRIPTION_LIMIT,
        lambda t: OutboundMessage("Pick", FOUR, descriptions=[t]),
        lambda ps: [_rows(ps)[0]["description"]],
    ),
    "menu label": (
        MENU_LABEL_LIMIT,
        lambda t: OutboundMessage("Pick", FOUR, menu_label=t),
        lambda ps: [_interactive(ps)["action"]["button"]],
    ),
    "header": (
        HEADER_LIMIT,
        lambda t: OutboundMessage("Pick", [("a", "A")], header=t),
        lambda ps: [_interactive(ps)["header"]["text"]],
    ),
    "footer": (
        FOOTER_LIMIT,
        lambda t: OutboundMessage("Pick", [("a", "A")], footer=t),
        lambda ps: [_interactive(ps)["footer"]["text"]],
    ),
    "caption": (
        CAPTION_LIMIT,
        lambda t: OutboundMessage("", media=Media.image("https://example.org/m.png", caption=t)),
        lambda ps: [p["image"]["caption"] for p in ps if "caption" in p.get("image", {})],
    ),
}


def strict_problems(payload: dict[str, Any]) -> list[str]:
    """Every string of ``payload`` longer, in UTF-16 units, than its WhatsApp limit."""
    checks: list[tuple[str, int]] = []
    if payload["type"] == "text":
        checks.append((payload["text"]["body"], TEXT_LIMIT))
    for kind in ("image", "video", "document"):
        if "caption" in payload.get(kind, {}):
            checks.append((payload[kind]["caption"], CAPTION_LIMIT))
    interactive = payload.get("interactive", {})
    if interactive:
        is_list = interactive["type"] == "list"
        checks.append((interactive["body"]["text"], LIST_BODY_LIMIT if is_list else BODY_LIMIT))
        checks += [(interactive["header"]["text"], HEADER_LIMIT)] if "header" in interactive else []
        checks += [(interactive["footer"]["text"], FOOTER_LIMIT)] if "footer" in interactive else []
    action = interactive.get("action", {})
    for button in action.get("buttons", ()):
        checks += [(button["reply"]["title"], BUTTON_TITLE_LIMIT)]
        checks += [(button["reply"]["id"], BUTTON_ID_LIMIT)]
    if interactive.get("type") == "list":
        checks.append((action["button"], MENU_LABEL_LIMIT))
        for row in action["sections"][0]["rows"]:
            checks += [(row["title"], ROW_TITLE_LIMIT), (row["id"], ROW_ID_LIMIT)]
            checks += [(row.get("description", ""), DESCRIPTION_LIMIT)]
    return [
        f"{text[:30]!r}: {units(text)} > {limit}" for text, limit in checks if units(text) > limit
    ]


@pytest.mark.parametrize("cluster", list(CLUSTERS.values()), ids=list(CLUSTERS))
@pytest.mark.parametrize("slot", list(SLOTS), ids=list(SLOTS))
@pytest.mark.parametrize("delta", [-1, 0, 1], ids=["limit-1", "limit", "limit+1"])
def test_each_limit_holds_in_utf16_units(slot: str, cluster: str, delta: int) -> None:
    limit, build, read = SLOTS[slot]
    text = filled(limit + delta, cluster)
    payloads = render(build(text), TO)
    assert [problem for p in payloads for problem in strict_problems(p)] == []
    shown = read(payloads)
    if delta <= 0:
        assert shown == [text]  # a text that fits is sent as it is
        return
    assert text not in shown
    for value in shown:
        if value.endswith("…"):
            # Cut between grapheme clusters: no broken emoji, flag or accent.
            kept = value.removesuffix("…")
            assert graphemes(kept) == graphemes(text)[: len(graphemes(kept))]


@pytest.mark.parametrize("cluster", list(CLUSTERS.values()), ids=list(CLUSTERS))
@pytest.mark.parametrize("slot", ["text", "caption"])
def test_an_over_long_text_or_caption_loses_no_character(slot: str, cluster: str) -> None:
    limit, build, _ = SLOTS[slot]
    text = filled(limit + 1, cluster)
    bodies = [p["text"]["body"] for p in render(build(text), TO) if p["type"] == "text"]
    assert len(bodies) == (2 if slot == "text" else 1)
    assert "".join(bodies) == text
    assert all(units(body) <= TEXT_LIMIT for body in bodies)


def test_a_twenty_code_point_title_of_emoji_is_shortened() -> None:
    # 20 code points fit a code-point count; they are 40 units, twice what is allowed.
    title = ASTRAL * 20
    payload = render(OutboundMessage("Pick", [("a", title), ("b", "No")]), TO)[0]
    shown = payload["interactive"]["action"]["buttons"][0]["reply"]["title"]
    assert shown == ASTRAL * 9 + "…"
    assert units(shown) == 19


def test_a_question_of_emoji_keeps_its_last_line_with_the_buttons() -> None:
    # Under 1,024 code points, over 1,024 units: the intro goes first as text.
    intro = ASTRAL * 600
    question = f"{intro}\nPick one {FLAG}"
    payloads = render(OutboundMessage(question, [("a", "A"), ("b", "B")]), TO)
    assert [p["type"] for p in payloads] == ["text", "interactive"]
    assert payloads[0]["text"]["body"] == intro
    assert payloads[1]["interactive"]["body"]["text"] == f"Pick one {FLAG}"


def test_titles_made_unique_stay_within_the_limit_in_units() -> None:
    titles = [ASTRAL * 10, ASTRAL * 10]
    made = unique_titles(titles, BUTTON_TITLE_LIMIT)
    assert made[0] == ASTRAL * 10
    assert made[1] == ASTRAL * 8 + "… 2"
    assert all(units(title) <= BUTTON_TITLE_LIMIT for title in made)


def test_an_option_id_of_emoji_too_long_for_its_tag_goes_untagged() -> None:
    option = ASTRAL * 125  # 250 units: fits 256 alone, not with "~" and a 12-letter tag
    message = OutboundMessage("Pick", [(option, "A"), ("b", "B")], tag="q" * 12)
    reply = render(message, TO)[0]["interactive"]["action"]["buttons"][0]["reply"]
    assert reply["id"] == option


def test_an_option_id_of_emoji_over_the_limit_sends_numbered_text() -> None:
    option = ASTRAL * 129  # 129 code points fit; 258 units do not
    payloads = render(OutboundMessage("Pick", [(option, "A"), ("b", "B")]), TO)
    assert [p["type"] for p in payloads] == ["text"]


# shorten and split_text


def test_shorten_never_cuts_a_zwj_family_a_flag_or_an_accent() -> None:
    assert shorten(FAMILY * 3, 20) == FAMILY + "…"
    flags = "\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7\U0001f1ee\U0001f1f9\U0001f1ea\U0001f1f8"
    assert shorten(flags + flags, 20) == flags + "…"  # 4 flags, 16 units, + "…"
    assert shorten(COMBINING * 15, 20) == COMBINING * 9 + "…"
    assert shorten(THUMB * 6, 20) == THUMB * 4 + "…"


def test_shorten_cuts_a_cluster_longer_than_the_limit_between_code_points() -> None:
    assert shorten(FAMILY, 6) == FAMILY[:3] + "…"  # man, ZWJ, woman: 5 units
    assert shorten(ASTRAL * 2, 2) == "…"


def test_split_text_keeps_an_emoji_across_the_limit_whole() -> None:
    text = "a" * (TEXT_LIMIT - 10) + FAMILY + FLAG
    assert split_text(text, TEXT_LIMIT) == ["a" * (TEXT_LIMIT - 10), FAMILY + FLAG]


def test_split_text_refuses_a_limit_no_emoji_fits() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_text(ASTRAL, 1)


def test_prefix_end_and_suffix_start() -> None:
    text = "ab" + FAMILY + FLAG
    assert prefix_end(text, 100) == len(text)
    assert prefix_end(text, 12) == 2  # the family does not fit after "ab"
    assert prefix_end(text, 13) == 2 + len(FAMILY)
    assert prefix_end(FAMILY, 4) == 2  # alone too long: cut between code points (man, ZWJ)
    assert prefix_end(ASTRAL, 1) == 0
    assert suffix_start(text, 100) == 0
    assert suffix_start(text, 4) == 2 + len(FAMILY)
    assert suffix_start(text, 5) == 2 + len(FAMILY)  # the boy (2 units) does not fit
    assert suffix_start(text, 6) == 2 + len(FAMILY) - 1  # the boy and the flag
    assert lengths.__all__ == sorted(lengths.__all__)


def _walked_prefix_end(text: str, limit: int) -> int:
    """prefix_end the slow way: whole clusters from the start, else whole code points."""
    end = size = 0
    for cluster in graphemes(text):
        size += units(cluster)
        if size > limit:
            break
        end += len(cluster)
    else:
        return len(text)
    if end:
        return end
    while end < len(text) and units(text[: end + 1]) <= limit:
        end += 1
    return end


PIECES = [
    "a",
    "word",
    "é",
    "中",
    " ",
    "\n",
    ASTRAL,
    FAMILY,
    FLAG,
    "\U0001f1eb\U0001f1f7",
    COMBINING,
    THUMB,
    HEART,
    "\U0001d400",  # MATHEMATICAL BOLD CAPITAL A: astral, not an emoji
]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=80), limit=st.integers(2, 60))
def test_split_text_never_exceeds_the_limit_and_loses_nothing(
    pieces: list[str], limit: int
) -> None:
    text = "".join(pieces)
    chunks = split_text(text, limit)
    assert all(units(chunk) <= limit for chunk in chunks)
    assert all(chunk.strip() for chunk in chunks)
    # Only the line break or space cut at (and blank chunks) are left out.
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)
    if limit >= max(map(units, PIECES)):
        # Every cluster fits, so none is broken: each chunk is made of whole pieces.
        assert all(set(graphemes(chunk)) <= set(PIECES) | set("word") for chunk in chunks)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=40), limit=st.integers(1, 40))
def test_shorten_never_exceeds_the_limit_and_keeps_a_prefix(pieces: list[str], limit: int) -> None:
    text = " ".join("".join(pieces).split())
    short = shorten(text, limit)
    assert units(short) <= limit
    if short != text:
        assert short.endswith("…")
        assert text.startswith(short.removesuffix("…"))


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=60).map("".join),
    limit=st.integers(0, 80),
)
def test_prefix_end_and_suffix_start_agree_with_a_walk(text: str, limit: int) -> None:
    assert prefix_end(text, limit) == _walked_prefix_end(text, limit)
    start = suffix_start(text, limit)
    assert units(text[start:]) <= limit
    assert start == 0 or units(text[start - 1 :]) > limit


def emoji_text(max_pieces: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(PIECES), max_size=max_pieces).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    text=emoji_text(700),
    titles=st.lists(emoji_text(30), max_size=12),
    line=st.none() | emoji_text(50),
    offset=st.integers(min_value=0, max_value=12),
)
def test_every_emoji_heavy_rendering_fits_in_utf16_units(
    text: str, titles: list[str], line: str | None, offset: int
) -> None:
    buttons = [(f"o{n}", title) for n, title in enumerate(titles)]
    message = OutboundMessage(
        text,
        buttons,
        tag="q1",
        descriptions=[title * 3 for title in titles],
        menu_label=line,
        header=line,
        footer=line,
    )
    payloads = render(message, TO, offset=offset)
    assert [problem for p in payloads for problem in strict_problems(p)] == []


def _old_split_text(text: str, limit: int) -> list[str]:
    """split_text as it was when it counted code points (the BMP reference)."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = next((c for c in (rest.rfind(s, 0, limit + 1) for s in ("\n", " ")) if c > 0), limit)
        chunks.append(rest[:cut])
        rest = rest[cut:]
        if rest[:1] in ("\n", " "):
            rest = rest[1:]
    chunks.append(rest)
    return [chunk for chunk in chunks if chunk.strip()]


def _old_shorten(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# Letters, CJK, punctuation, spaces and line breaks: one code point is one unit and one
# grapheme cluster, so nothing changes for such texts.
BMP = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF) | st.sampled_from("\n中文…€"),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(text=BMP, limit=st.integers(2, 50))
def test_bmp_texts_split_and_shorten_as_before(text: str, limit: int) -> None:
    assert split_text(text, limit) == _old_split_text(text, limit)
    assert shorten(text, limit) == _old_shorten(text, limit)


# check_flow and flowhq check --channel whatsapp


class Party(Flow):
    """A confirmation whose yes button is 20 code points but 22 UTF-16 units."""

    ask = Confirm("Come along?", yes="\U0001f389\U0001f389 Yes, count me in!", initial=True)
    done = Message("See you!", final=True)
    yes = ask.to(done)
    no = ask.to(done)


class Fits(Flow):
    """Nine astral emoji and a space: 19 units, within a button's 20."""

    ask = Confirm("Come along?", yes=ASTRAL * 9 + "!", initial=True)
    done = Message("See you!", final=True)
    yes = ask.to(done)
    no = ask.to(done)


def test_check_flow_counts_emoji_as_two_and_says_so() -> None:
    assert len(Party.ask.yes_title) == 20
    assert check_flow(Party) == [
        "Party.ask: button title '\U0001f389\U0001f389 Yes, count me in!' is 22 UTF-16 units "
        "long (characters beyond U+FFFF, like most emoji, count as 2); WhatsApp allows 20"
    ]
    assert check_flow(Fits) == []


def test_check_flow_counts_a_header_and_a_question_in_units() -> None:
    class Framed(Flow):
        ask = Confirm(FLAG * 256 + "?", header=ASTRAL * 31, initial=True)
        done = Message("Done.", final=True)
        yes = ask.to(done)
        no = ask.to(done)

    problems = check_flow(Framed)
    assert any("header" in p and "is 62 UTF-16 units long" in p for p in problems), problems
    assert any("the question is 1025 UTF-16 units long" in p for p in problems), problems


def test_flowhq_check_channel_whatsapp_counts_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", f"{__name__}:Party", "--channel", "whatsapp"]) == 1
    assert "is 22 UTF-16 units long" in capsys.readouterr().out
    assert main(["check", f"{__name__}:Fits", "--channel", "whatsapp"]) == 0


def test_the_fake_graph_api_refuses_by_the_stricter_reading() -> None:
    """The fake stands in for Meta: a button title of eleven emoji is 11 characters but 22
    UTF-16 units, refused as Meta would if it counts them (what flowhq renders never is)."""
    from flowhq.testing.whatsapp.fake_graph import refuse

    def buttons(title: str) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "to": "15550001111",
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Pick"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": title}}]},
            },
        }

    assert refuse(buttons("🦷" * 10)) is None
    refused = refuse(buttons("🦷" * 11))
    assert refused is not None
    assert "22 UTF-16 units" in refused[1]

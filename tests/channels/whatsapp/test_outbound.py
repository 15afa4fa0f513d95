"""Rendering replies as WhatsApp Cloud API payloads: every limit, split and page."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flowhq.channels.whatsapp
import flowhq.testing.whatsapp
from flowhq import Choice, Confirm, Flow, Message
from flowhq.channels.whatsapp import (
    MORE_PREFIX,
    messenger,
    outbound,
    parse_more,
    render,
)
from flowhq.channels.whatsapp.outbound import (
    BODY_LIMIT,
    BUTTON_TITLE_LIMIT,
    DESCRIPTION_LIMIT,
    MAX_ROWS,
    MORE_TITLE,
    PAGE_SIZE,
    ROW_ID_LIMIT,
    ROW_TITLE_LIMIT,
    TEXT_LIMIT,
    check_flow,
    split_text,
)
from flowhq.messaging.types import OutboundMessage, decode_button_id
from flowhq.testing.whatsapp import fake_graph, payloads
from flowhq.testing.whatsapp.fake_graph import refuse

TO = "4915112345678"
LOGGER = "flowhq.channels.whatsapp"


def options(n: int, title: str = "Option {i}") -> list[tuple[str, str]]:
    return [(f"o{i}", title.format(i=i)) for i in range(n)]


def only(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(payloads) == 1
    return payloads[0]


def assert_sendable(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        assert refuse(payload) is None, (refuse(payload), payload)


def rows_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    sections = payload["interactive"]["action"]["sections"]
    assert len(sections) == 1
    rows: list[dict[str, Any]] = sections[0]["rows"]
    return rows


def button_replies(payload: dict[str, Any]) -> list[dict[str, str]]:
    return [button["reply"] for button in payload["interactive"]["action"]["buttons"]]


@pytest.mark.parametrize(
    "module",
    [flowhq.channels.whatsapp, outbound, messenger, flowhq.testing.whatsapp, fake_graph, payloads],
    ids=lambda m: m.__name__,
)
def test_all_is_sorted_and_complete(module: Any) -> None:
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


# Text


def test_text_message_envelope() -> None:
    payload = only(render(OutboundMessage("Hello"), TO))
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "text",
        "text": {"preview_url": False, "body": "Hello"},
    }


def test_preview_url_is_passed_through() -> None:
    payload = only(render(OutboundMessage("See https://example.org"), TO, preview_url=True))
    assert payload["text"]["preview_url"] is True


def test_empty_text_renders_nothing() -> None:
    assert render(OutboundMessage(""), TO) == []
    assert render(OutboundMessage("  \n "), TO) == []


def test_text_at_the_limit_is_one_message() -> None:
    assert only(render(OutboundMessage("x" * TEXT_LIMIT), TO))["text"]["body"] == "x" * TEXT_LIMIT


def test_long_text_splits_at_line_boundaries() -> None:
    lines = [f"line {n:04d} " + "y" * 40 for n in range(300)]  # about 15,000 characters
    payloads = render(OutboundMessage("\n".join(lines)), TO)
    bodies = [p["text"]["body"] for p in payloads]
    assert len(bodies) == 4
    assert all(len(body) <= TEXT_LIMIT for body in bodies)
    # Every chunk holds whole lines, and together they hold every line in order.
    assert [line for body in bodies for line in body.split("\n")] == lines
    assert_sendable(payloads)


def test_long_line_splits_at_word_boundaries() -> None:
    words = [f"word{n}" for n in range(2000)]
    bodies = [p["text"]["body"] for p in render(OutboundMessage(" ".join(words)), TO)]
    assert len(bodies) > 1
    assert all(len(body) <= TEXT_LIMIT for body in bodies)
    assert [word for body in bodies for word in body.split(" ")] == words


def test_text_without_spaces_splits_hard() -> None:
    text = "z" * (TEXT_LIMIT * 2 + 10)
    bodies = [p["text"]["body"] for p in render(OutboundMessage(text), TO)]
    assert [len(body) for body in bodies] == [TEXT_LIMIT, TEXT_LIMIT, 10]
    assert "".join(bodies) == text


def test_split_text_prefers_lines_over_words() -> None:
    assert split_text("aaa bbb\nccc ddd", 10) == ["aaa bbb", "ccc ddd"]
    assert split_text("aaa bbb ccc", 8) == ["aaa bbb", "ccc"]
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


# Reply buttons


def test_buttons_with_tagged_ids() -> None:
    message = OutboundMessage("Continue?", [("yes", "Yes"), ("no", "No")], tag="q7")
    payload = only(render(message, TO))
    assert payload["type"] == "interactive"
    assert payload["interactive"]["type"] == "button"
    assert payload["interactive"]["body"] == {"text": "Continue?"}
    assert payload["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "yes~q7", "title": "Yes"}},
        {"type": "reply", "reply": {"id": "no~q7", "title": "No"}},
    ]
    assert decode_button_id("yes~q7") == ("yes", "q7")


def test_untagged_buttons_use_the_option_ids() -> None:
    payload = only(render(OutboundMessage("Pick", options(3)), TO))
    assert [reply["id"] for reply in button_replies(payload)] == ["o0", "o1", "o2"]


def test_long_button_titles_are_shortened_with_ellipsis(caplog: pytest.LogCaptureFixture) -> None:
    message = OutboundMessage("Pick", [("a", "A title that is much too long"), ("b", "Fine")])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payload = only(render(message, TO))
    titles = [reply["title"] for reply in button_replies(payload)]
    assert titles == ["A title that is muc…", "Fine"]
    assert len(titles[0]) == BUTTON_TITLE_LIMIT
    assert "shortened" in caplog.text
    assert_sendable([payload])


def test_titles_equal_after_shortening_are_made_unique(caplog: pytest.LogCaptureFixture) -> None:
    message = OutboundMessage(
        "Pick",
        [("a", "Delivery to the front door"), ("b", "Delivery to the front gate"), ("c", "x")],
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payload = only(render(message, TO))
    titles = [reply["title"] for reply in button_replies(payload)]
    assert len({title.casefold() for title in titles}) == 3
    assert all(len(title) <= BUTTON_TITLE_LIMIT for title in titles)
    assert titles[1].endswith(" 2")
    assert "not unique" in caplog.text
    assert_sendable([payload])


def test_titles_differing_only_in_case_are_made_unique() -> None:
    payload = only(render(OutboundMessage("Pick", [("a", "Yes"), ("b", "YES")]), TO))
    assert [reply["title"] for reply in button_replies(payload)] == ["Yes", "YES 2"]


def test_repeated_option_ids_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    message = OutboundMessage("Pick", [("a", "A"), ("a", "Again"), ("b", "B")])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payload = only(render(message, TO))
    assert [reply["id"] for reply in button_replies(payload)] == ["a", "b"]
    assert "repeated option id" in caplog.text


def test_empty_title_falls_back_to_the_option_id() -> None:
    payload = only(render(OutboundMessage("Pick", [("keep", "  "), ("drop", "Drop")]), TO))
    assert button_replies(payload)[0]["title"] == "keep"


def test_titles_are_one_line() -> None:
    payload = only(render(OutboundMessage("Pick", [("a", "Two\nlines"), ("b", "B")]), TO))
    assert button_replies(payload)[0]["title"] == "Two lines"


def test_empty_question_gets_a_short_body() -> None:
    payload = only(render(OutboundMessage("", [("a", "A")]), TO))
    assert payload["interactive"]["body"]["text"] == "Choose"
    assert_sendable([payload])


def test_long_question_goes_first_as_text_keeping_the_last_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intro = "\n".join(f"Term {n}: " + "t" * 60 for n in range(40))  # about 2,800 characters
    message = OutboundMessage(f"{intro}\nDo you accept?", [("yes", "Yes"), ("no", "No")])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payloads = render(message, TO)
    assert [p["type"] for p in payloads] == ["text", "interactive"]
    assert payloads[0]["text"]["body"] + "\n" + payloads[1]["interactive"]["body"]["text"] == (
        message.text
    )
    assert payloads[1]["interactive"]["body"]["text"].endswith("Do you accept?")
    assert len(payloads[1]["interactive"]["body"]["text"]) <= BODY_LIMIT
    assert "sending it as text first" in caplog.text
    assert_sendable(payloads)


def test_a_list_body_takes_up_to_4096_characters() -> None:
    # Meta allows 4,096 characters in a list's body, 1,024 with reply buttons.
    question = "m" * 4096
    payload = only(render(OutboundMessage(question, options(5)), TO))
    assert payload["interactive"]["type"] == "list"
    assert payload["interactive"]["body"]["text"] == question
    assert_sendable([payload])
    too_long = render(OutboundMessage("m" * 4097, options(5), menu_label="Pick"), TO)
    assert [p["type"] for p in too_long] == ["text", "text", "interactive"]
    assert too_long[-1]["interactive"]["body"]["text"] == "Pick"


def test_a_quote_header_and_footer() -> None:
    message = OutboundMessage(
        "Which size?",
        options(3),
        quote="wamid.USER-1",
        header="Pizza " * 20,  # over 60 characters: shortened
        footer="Prices include VAT",
    )
    payload = only(render(message, TO))
    assert payload["context"] == {"message_id": "wamid.USER-1"}  # a reply to the user's tap
    interactive = payload["interactive"]
    assert interactive["footer"] == {"text": "Prices include VAT"}
    assert interactive["header"]["type"] == "text"
    assert len(interactive["header"]["text"]) <= 60
    assert_sendable([payload])
    quoted_text = render(OutboundMessage("x " * 3000, quote="wamid.USER-2"), TO)
    assert quoted_text[0]["context"] == {"message_id": "wamid.USER-2"}  # only the first
    assert "context" not in quoted_text[1]


def test_long_question_without_lines_is_sent_whole_then_a_short_body() -> None:
    text = "word " * 2000  # 10,000 characters on one line
    message = OutboundMessage(text, options(5), menu_label="Pick one")
    payloads = render(message, TO)
    assert [p["type"] for p in payloads] == ["text", "text", "text", "interactive"]
    assert payloads[-1]["interactive"]["body"]["text"] == "Pick one"
    assert_sendable(payloads)


def test_id_too_long_for_its_tag_is_sent_untagged(caplog: pytest.LogCaptureFixture) -> None:
    long_id = "o" * (ROW_ID_LIMIT - 2)
    message = OutboundMessage("Pick", [(long_id, "Long"), *options(4)], tag="t1")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payload = only(render(message, TO))
    assert [row["id"] for row in rows_of(payload)] == [long_id, "o0~t1", "o1~t1", "o2~t1", "o3~t1"]
    assert "too long to carry its tag" in caplog.text


def test_id_too_long_even_untagged_falls_back_to_numbered_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = OutboundMessage("Pick", [("o" * 300, "Long"), ("b", "B")])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payload = only(render(message, TO))
    assert payload["text"]["body"] == "Pick\n1. Long\n2. B"
    assert "numbered text" in caplog.text


# Lists


def test_four_options_make_a_list() -> None:
    message = OutboundMessage("Which size?", options(4), tag="s1")
    payload = only(render(message, TO))
    interactive = payload["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"] == {"text": "Which size?"}
    assert interactive["action"]["button"] == "Choose"
    assert rows_of(payload) == [{"id": f"o{i}~s1", "title": f"Option {i}"} for i in range(4)]
    assert_sendable([payload])


def test_list_label_descriptions_and_row_limits(caplog: pytest.LogCaptureFixture) -> None:
    message = OutboundMessage(
        "Which plan?",
        [
            ("basic", "Basic"),
            ("plus", "Plus, with a title too long for a row"),
            ("pro", "Pro"),
            ("max", "Max"),
        ],
        descriptions=("Cheap", "d" * 100, None, ""),
        menu_label="See all the plans we offer",
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        payload = only(render(message, TO))
    action = payload["interactive"]["action"]
    assert action["button"] == "See all the plans w…"
    rows = rows_of(payload)
    assert rows[0] == {"id": "basic", "title": "Basic", "description": "Cheap"}
    assert rows[1]["title"] == "Plus, with a title too…"  # no space before the ellipsis
    assert len(rows[1]["title"]) <= ROW_TITLE_LIMIT
    assert rows[1]["title"].endswith("…")
    assert len(rows[1]["description"]) == DESCRIPTION_LIMIT
    assert "description" not in rows[2]
    assert "description" not in rows[3]
    assert "description" in caplog.text
    assert_sendable([payload])


def test_ten_options_fit_one_list_without_paging() -> None:
    rows = rows_of(only(render(OutboundMessage("Pick", options(10)), TO)))
    assert len(rows) == MAX_ROWS
    assert all(parse_more(row["id"]) is None for row in rows)


def test_eleven_options_page_with_a_more_row() -> None:
    message = OutboundMessage("Pick", options(11), tag="q2")
    first = rows_of(only(render(message, TO)))
    assert len(first) == MAX_ROWS
    assert [row["id"] for row in first[:PAGE_SIZE]] == [f"o{i}~q2" for i in range(9)]
    assert first[-1] == {"id": f"{MORE_PREFIX}9~q2", "title": MORE_TITLE}
    second = rows_of(only(render(message, TO, offset=9)))
    assert [row["id"] for row in second] == ["o9~q2", "o10~q2"]


def test_paging_through_25_options_shows_each_once_and_every_page_fits() -> None:
    message = OutboundMessage(
        "Which city?",
        options(25, "City number {i} with a long name"),
        tag="city",
        descriptions=[f"Description {i}" for i in range(25)],
    )
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        payload = only(render(message, TO, offset=offset))
        assert_sendable([payload])
        rows = rows_of(payload)
        assert len(rows) <= MAX_ROWS
        offset = None
        for row in rows:
            more = parse_more(row["id"])
            if more is not None:
                assert row is rows[-1]
                offset = more
            else:
                option, tag = decode_button_id(row["id"])
                assert tag == "city"
                seen.append(option)
        pages += 1
    assert seen == [f"o{i}" for i in range(25)]
    assert pages == 3


def test_out_of_range_offset_shows_the_first_page(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rows = rows_of(only(render(OutboundMessage("Pick", options(12)), TO, offset=40)))
    assert rows[0]["id"] == "o0"
    assert "out of range" in caplog.text


def test_an_option_titled_like_more_stays_distinct() -> None:
    rows = rows_of(only(render(OutboundMessage("Pick", options(12, MORE_TITLE)), TO)))
    titles = [row["title"].casefold() for row in rows]
    assert len(set(titles)) == len(titles)
    assert rows[-1]["title"] == MORE_TITLE


def test_parse_more() -> None:
    assert parse_more(f"{MORE_PREFIX}18") == 18
    assert parse_more(f"{MORE_PREFIX}18~abc") == 18
    assert parse_more("o1~abc") is None
    assert parse_more(f"{MORE_PREFIX}x") is None
    assert parse_more(f"{MORE_PREFIX}") is None


option_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=3000),
    buttons=st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True), option_text),
        max_size=30,
    ),
    tag=st.none() | st.from_regex(r"[0-9a-z]{1,12}", fullmatch=True),
    offset=st.integers(min_value=-3, max_value=40),
)
def test_every_rendering_is_accepted_by_the_fake(
    text: str, buttons: list[tuple[str, str]], tag: str | None, offset: int
) -> None:
    message = OutboundMessage(text, buttons, tag=tag, descriptions=[t for _, t in buttons])
    payloads = render(message, TO, offset=offset)
    assert_sendable(payloads)
    if buttons:
        assert payloads[-1]["type"] == "interactive"


# check_flow


class Shop(Flow):
    pick = Choice(
        "What would you like?",
        {
            "tea": "Tea",
            "coffee": "A freshly ground coffee, double",  # 31 characters: too long for a row
            "juice": "Juice",
            "water": "WATER",
        },
        initial=True,
    )
    sure = Confirm("Order it? " + "Really. " * 130, yes="Yes, place the order now")
    ok = Confirm("Fine?")
    thanks = Message("Thanks! " * 600, final=True)

    tea = pick.to(sure)
    coffee = pick.to(sure)
    juice = pick.to(sure)
    water = pick.to(sure)
    yes = sure.to(ok) | ok.to(thanks)
    no = sure.to(thanks) | ok.to(thanks)


def test_check_flow_names_each_problem_and_its_state() -> None:
    problems = check_flow(Shop)
    assert len(problems) == 3, problems
    assert any(
        p.startswith("Shop.pick: list row title 'A freshly ground coffee, double' has 31")
        and "allows 24" in p
        for p in problems
    )
    # Option ids are bounded by Choice itself (180 characters, room for a tag).
    assert any(p.startswith("Shop.sure: button title 'Yes, place the order now'") for p in problems)
    assert any(p.startswith("Shop.sure: the question has 1050 characters") for p in problems)
    # A long Message is split, and a short Confirm fits: neither is a problem.
    assert not any(p.startswith(("Shop.thanks", "Shop.ok")) for p in problems)


def test_check_flow_of_a_fitting_flow_is_empty() -> None:
    class Fits(Flow):
        ask = Confirm("Go on?", initial=True)
        done = Message("Done.", final=True)
        yes = ask.to(done)
        no = ask.to(done)

    assert check_flow(Fits) == []


class Framed(Flow):
    """A menu and a confirmation with header and footer lines."""

    start_data = ("name",)
    size = Choice(
        "Which size, {name}?",
        options={"s": "Small", "m": "Medium"},
        header="Pizza for {name}",
        footer="Prices include delivery",
        initial=True,
    )
    sure = Confirm("Order it?", header="Last step", footer="You can cancel any time")
    done = Message("Ordered.", final=True)
    chosen = size.to(sure)
    yes = sure.to(done)
    no = sure.to(size)


async def test_choice_and_confirm_frame_their_question_with_a_header_and_a_footer() -> None:
    from flowhq.testing import Conversation

    async with Conversation(Framed) as c:
        await c.start(data={"name": "Ann"})
        menu = c.last_reply
        assert menu is not None
        assert (menu.header, menu.footer) == ("Pizza for Ann", "Prices include delivery")
        interactive = render(menu, "15550001")[0]["interactive"]
        assert interactive["header"] == {"type": "text", "text": "Pizza for Ann"}
        assert interactive["footer"] == {"text": "Prices include delivery"}
        await c.say("Small")
        confirm = c.last_reply
        assert confirm is not None
        assert (confirm.header, confirm.footer) == ("Last step", "You can cancel any time")
    assert check_flow(Framed) == []


def test_a_footer_longer_than_whatsapp_allows_is_refused() -> None:
    class Wordy(Flow):
        ask = Confirm("Go?", footer="x" * 61, initial=True)
        done = Message("Done.", final=True)
        yes = ask.to(done)
        no = ask.to(done)

    assert check_flow(Wordy) == [
        "Wordy.ask: footer 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' has 61 characters; "
        "WhatsApp allows 60"
    ]

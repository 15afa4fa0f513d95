"""Dates, times and numbers read in the conversation's language and time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from flowhq import Flow, Headquarters, InboundMessage, MemoryStore, Message, Prompt
from flowhq.errors import ValidationError
from flowhq.i18n import Localization
from flowhq.testing import ManualClock
from flowhq.validators import date as day_validator
from flowhq.validators import number, time

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")


def speech(at: str, zone: ZoneInfo | None = None, locale: str = "en") -> Localization:
    moment = datetime.fromisoformat(at)
    return Localization(locale, zone or UTC, lambda: moment)


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("tomorrow", "en", "2026-12-04"),
        ("next Tuesday", "en", "2026-12-08"),
        ("5/12", "en", "2027-05-12"),  # month first in American English (and not past)
        ("5/12", "es", "2026-12-05"),  # day first in Spanish
        ("12/12", "en", "2026-12-12"),
        ("mañana", "es", "2026-12-04"),
        ("martes", "es", "2026-12-08"),
        ("amanhã", "pt_BR", "2026-12-04"),
        ("sexta-feira", "pt_BR", "2026-12-04"),
    ],
)
def test_dates_in_the_users_words(text: str, locale: str, expected: str) -> None:
    validate = day_validator(future=True)
    assert validate(text, speech("2026-12-03T10:00:00+00:00", locale=locale)) == expected


def test_tomorrow_across_the_spring_dst_change_in_madrid() -> None:
    # 23:30 UTC on 28 March is 00:30 on the 29th in Madrid, the night clocks go forward.
    night = speech("2026-03-28T23:30:00+00:00", MADRID)
    assert day_validator()("today", night) == "2026-03-29"
    assert day_validator()("tomorrow", night) == "2026-03-30"
    utc = speech("2026-03-28T23:30:00+00:00")
    assert day_validator()("tomorrow", utc) == "2026-03-29"


def test_tomorrow_across_the_autumn_dst_change_in_madrid() -> None:
    night = speech("2026-10-24T22:30:00+00:00", MADRID)  # 00:30 on the 25th, summer time
    assert day_validator()("tomorrow", night) == "2026-10-26"
    after = speech("2026-10-25T23:30:00+00:00", MADRID)  # 00:30 on the 26th, winter time
    assert day_validator()("today", after) == "2026-10-26"


def test_today_in_another_time_zone() -> None:
    evening = speech("2026-12-03T02:00:00+00:00", NEW_YORK)  # 21:00 on the 2nd in New York
    assert day_validator()("today", evening) == "2026-12-02"
    assert day_validator()("today", speech("2026-12-03T02:00:00+00:00")) == "2026-12-03"


def test_bounds_refuse_with_a_clear_re_ask() -> None:
    now = speech("2026-12-03T10:00:00+00:00")
    with pytest.raises(ValidationError, match=r"Please send a day from today on\."):
        day_validator(future=True)("yesterday", now)
    with pytest.raises(ValidationError, match=r"Please send a day that has passed\."):
        day_validator(past=True)("tomorrow", now)
    with pytest.raises(ValidationError, match=r"Please send a day from Dec 10, 2026 on."):
        day_validator(min=date(2026, 12, 10))("tomorrow", now)
    with pytest.raises(ValidationError, match=r"Please send a day up to Dec 1, 2026."):
        day_validator(max=date(2026, 12, 1))("tomorrow", now)
    with pytest.raises(ValidationError, match=r"Please send a date, like Dec 4, 2026."):
        day_validator()("whenever", now)


def test_times() -> None:
    now = speech("2026-12-03T10:00:00+00:00")
    assert time()("3pm", now) == "15:00"
    assert time()("15:30", speech("2026-12-03T10:00:00+00:00", locale="es")) == "15:30"
    with pytest.raises(ValidationError, match="Please send a time, like 4:30"):
        time()("tomorrow", now)


def test_numbers_in_the_locales_writing() -> None:
    assert number()("1.234,5", speech("2026-12-03T10:00:00+00:00", locale="es")) == 1234.5
    assert number()("1,234.5", speech("2026-12-03T10:00:00+00:00")) == 1234.5
    assert number()("12") == 12
    with pytest.raises(ValidationError, match=r"Please send a number of at least 2\.5"):
        number(min=2.5)("1")
    with pytest.raises(ValidationError, match=r"Please send a number\."):
        number()("lots")
    for huge in ("inf", "-Infinity", "1e999", "99999999999999999999"):
        with pytest.raises(ValidationError, match=r"Please send a number\."):
            number()(huge)  # no infinity, nothing JSON cannot keep exactly


def test_a_language_dateparser_does_not_know_reads_english() -> None:
    toki_pona = speech("2026-12-03T10:00:00+00:00", locale="tok")  # Babel knows it
    assert day_validator()("tomorrow", toki_pona) == "2026-12-04"


def test_a_paragraph_is_not_a_date() -> None:
    with pytest.raises(ValidationError, match="Please send a date"):
        day_validator()("tomorrow " * 20)


class Visit(Flow):
    name = "visit"

    day = Prompt("Which day?", validator=day_validator(future=True), initial=True)
    at = Prompt("At what time?", validator=time())
    done = Message("See you {day:date} at {at:time}.", final=True)

    valid = day.to(at) | at.to(done)


async def test_a_prompt_reads_the_day_in_the_headquarters_time_zone() -> None:
    clock = ManualClock(datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    hq = Headquarters(flows=[Visit], store=MemoryStore(), clock=clock, timezone="Europe/Madrid")

    async def say(text: str, n: int) -> list[str]:
        outcome = await hq.handle(InboundMessage("test", "+1555", f"m{n}", text))
        return [reply.text for reply in outcome.replies]

    await say("hi", 1)
    assert await say("yesterday", 2) == ["Please send a day from today on.\nWhich day?"]
    assert await say("tomorrow", 3) == ["At what time?"]
    assert await say("9:30", 4) == ["See you Monday, March 30, 2026 at 9:30\u202fAM."]


class Day(Flow):
    name = "day"

    day = Prompt("Which day?", validator=day_validator(), initial=True)
    done = Message("{day}", final=True)

    valid = day.to(done)


async def test_a_conversation_keeps_its_own_time_zone() -> None:
    clock = ManualClock(datetime(2026, 12, 3, 2, 0, tzinfo=UTC))  # 21:00 on the 2nd in New York
    hq = Headquarters(flows=[Day], store=MemoryStore(), clock=clock, timezone="Europe/Madrid")
    await hq.initialize("test", "+1212", timezone="America/New_York")
    await hq.handle(InboundMessage("test", "+1212", "a1", "hi"))
    outcome = await hq.handle(InboundMessage("test", "+1212", "a2", "today"))
    assert [reply.text for reply in outcome.replies] == ["2026-12-02"]
    await hq.handle(InboundMessage("test", "+3491", "b1", "hi"))  # Madrid: the 3rd already
    outcome = await hq.handle(InboundMessage("test", "+3491", "b2", "today"))
    assert [reply.text for reply in outcome.replies] == ["2026-12-03"]

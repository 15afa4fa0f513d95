"""Named formats in templates: ``{day:date}``, ``{at:time}``, ``{price:currency}``, per locale."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from flowhq import Flow, FlowDefinitionError, Message, Prompt
from flowhq.statecharts.templates import Template, TemplateError

MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("text", "values", "locale", "expected"),
    [
        ("{day:date}", {"day": "2026-12-12"}, "en", "Saturday, December 12, 2026"),
        ("{day:date}", {"day": "2026-12-12"}, "es", "sábado, 12 de diciembre de 2026"),
        ("{day:date}", {"day": "2026-12-12"}, "pt_BR", "sábado, 12 de dezembro de 2026"),
        ("{at:time}", {"at": "15:30"}, "en", "3:30\u202fPM"),
        ("{at:time}", {"at": "15:30"}, "es", "15:30"),
        ("{n:number}", {"n": 1234.5}, "en", "1,234.5"),
        ("{n:number}", {"n": 1234567.5}, "pt_BR", "1.234.567,5"),
        ("{price:currency}", {"price": 12.5}, "en", "$12.50"),
        ("{price:currency}", {"price": 12.5}, "es", "12,50\xa0€"),
        ("{price:currency}", {"price": 12.5}, "pt_BR", "R$\xa012,50"),
        ("{price:currency}", {"price": {"amount": 3, "currency": "EUR"}}, "en", "€3.00"),
        ("Hi {name}, {day:date}", {"name": "Ann", "day": "2026-01-02"}, "en",
         "Hi Ann, Friday, January 2, 2026"),
    ],
)  # fmt: skip
def test_named_formats_per_locale(
    text: str, values: dict[str, object], locale: str, expected: str
) -> None:
    assert Template(text).render(values, locale=locale) == expected


def test_times_follow_the_time_zone_across_the_dst_change() -> None:
    template = Template("{at:time}")
    before = {"at": "2026-03-29T00:30:00+00:00"}  # 01:30 in Madrid, winter time
    after = {"at": "2026-03-29T01:30:00+00:00"}  # 03:30 in Madrid: clocks went forward
    assert template.render(before, locale="es", timezone=MADRID) == "1:30"
    assert template.render(after, locale="es", timezone=MADRID) == "3:30"
    assert Template("{at:datetime}").render(after, locale="en", timezone=MADRID) == (
        "Mar 29, 2026, 3:30:00\u202fAM"
    )


def test_a_value_that_cannot_be_shown_so_is_an_error() -> None:
    with pytest.raises(TemplateError, match="cannot show str as date"):
        Template("{day:date}").render({"day": "soon"})


@pytest.mark.parametrize("text", ["{day:%Y}", "{day:>10}", "{day.x:date}", "{day!r:date}"])
def test_only_the_named_formats_are_accepted(text: str) -> None:
    with pytest.raises(TemplateError):
        Template(text)


def test_a_flow_with_an_unknown_format_is_refused_at_class_creation() -> None:
    with pytest.raises(FlowDefinitionError, match=r"\{day:date\}"):

        class Bad(Flow):
            day = Prompt("Day?", initial=True)
            done = Message("On {day:weekday}.", final=True)

            valid = day.to(done)

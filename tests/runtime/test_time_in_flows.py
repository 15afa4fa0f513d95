"""Timeouts, reminders and waits inside flows, on MemoryStore with a manual clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from flowhq import (
    Confirm,
    Flow,
    FlowDefinitionError,
    HistoryState,
    Message,
    Prompt,
    State,
    Wait,
)
from flowhq.testing import Conversation


class Booking(Flow):
    """The clinic's booking, with a reminder, a timeout and a wait."""

    commands = {"help": "help", "cancel": "cancel"}
    start_data = ("patient",)

    class asking(State.Compound):
        day = Prompt(
            "Which day?",
            timeout=timedelta(hours=23),
            reminders=[(timedelta(hours=2), "Still there, {patient}? Which day suits you?")],
            initial=True,
        )
        sure = Confirm("Book {day}?", timeout=600)
        again = HistoryState()
        valid = day.to(sure)
        again.to(day)

    hold = Wait(timedelta(minutes=10), text="Checking the calendar…")
    help_text = Message("We book visits. Answer the question to go on.")
    booked = Message("Booked for {day}.", final=True)
    expired = Message("No worries, write again when you're ready.", final=True)
    dropped = Message("Cancelled.", final=True)

    yes = asking.sure.to(hold)
    no = asking.sure.to(asking.day)
    done = hold.to(booked) | help_text.to(asking.again)
    timeout = asking.day.to(expired) | asking.sure.to(expired)
    help = asking.to(help_text)
    cancel = asking.to(dropped) | hold.to(dropped)


async def started() -> Conversation:
    conversation = Conversation(Booking)
    await conversation.start(data={"patient": "Ann"})
    return conversation


async def test_no_answer_in_time_is_the_timeout_result() -> None:
    c = await started()
    assert await c.advance(timedelta(hours=22, minutes=59)) == [
        "Still there, Ann? Which day suits you?"
    ]
    assert await c.advance(timedelta(minutes=1)) == ["No worries, write again when you're ready."]
    assert c.finished
    assert await c.hq.timers(c.key.channel, c.key.identifier) == []


async def test_an_answer_cancels_the_timeout_and_the_reminders() -> None:
    c = await started()
    assert await c.say("Monday") == ["Book Monday?"]
    assert await c.advance(timedelta(hours=30)) == ["No worries, write again when you're ready."]
    # only the Confirm's own timeout (10 min) fired: the day's reminder and timeout had gone
    record = c.records[-1]
    assert record.fired == (("sure", "timeout"),)


async def test_each_reminder_goes_out_once() -> None:
    c = await started()
    assert await c.advance(timedelta(hours=3)) == ["Still there, Ann? Which day suits you?"]
    assert await c.advance(timedelta(hours=3)) == []
    assert c.configuration == ["asking", "day"]


async def test_a_detour_and_return_keeps_the_visit_and_its_timers() -> None:
    c = await started()
    await c.advance(timedelta(hours=1))
    assert await c.say("help") == [
        "We book visits. Answer the question to go on.",
        "Which day?",
    ]
    # the reminder still comes 2 h after the question was first asked, once
    assert await c.advance(timedelta(hours=1)) == ["Still there, Ann? Which day suits you?"]
    assert await c.advance(timedelta(hours=21)) == ["No worries, write again when you're ready."]


async def test_a_late_reminder_is_not_sent_after_the_timeout_it_shares_a_pass_with() -> None:
    c = await started()
    assert await c.advance(timedelta(days=2)) == ["No worries, write again when you're ready."]


async def test_a_wait_finishes_with_done_and_answers_messages_meanwhile() -> None:
    c = await started()
    await c.say("Monday")
    assert await c.say("yes") == ["Checking the calendar…"]
    assert await c.say("hello?") == ["One moment, please…"]
    assert await c.advance(timedelta(minutes=9)) == []
    assert await c.advance(timedelta(minutes=1)) == ["Booked for Monday."]
    assert c.finished


async def test_commands_still_work_while_waiting() -> None:
    c = await started()
    await c.say("Monday")
    await c.say("yes")
    assert await c.say("cancel") == ["Cancelled."]
    assert await c.advance(timedelta(hours=1)) == []  # the wait's timer went with the state


def test_a_timeout_nobody_handles_is_refused_at_class_creation() -> None:
    with pytest.raises(FlowDefinitionError, match="result 'timeout' of its Prompt"):

        class Unhandled(Flow):
            ask = Prompt("?", timeout=60, initial=True)
            end = Message("end", final=True)
            valid = ask.to(end)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, "timeout must be a positive"),
        ({"timeout": -5}, "timeout must be a positive"),
        ({"reminders": [(0, "x")]}, "reminder 1"),
        ({"reminders": ["x"]}, "reminder 1"),
        ({"timeout": 60, "reminders": [(60, "x")]}, "never goes out"),
        ({"reminders": [(5, "Hi {nobody}")]}, "nobody"),
    ],
)
def test_bad_timers_are_refused_at_class_creation(options: dict[str, object], problem: str) -> None:
    with pytest.raises(FlowDefinitionError, match=problem):

        class Bad(Flow):
            ask = Prompt("?", initial=True, **options)  # type: ignore[arg-type]
            end = Message("end", final=True)
            valid = ask.to(end)
            timeout = ask.to(end)


async def test_a_stale_timer_is_logged_and_sends_nothing(caplog: pytest.LogCaptureFixture) -> None:
    c = await started()
    await c.hq.schedule(c.key.channel, c.key.identifier, "yes", after=60)  # not enabled at day
    with caplog.at_level(logging.INFO, logger="flowhq.headquarters"):
        assert await c.advance(60) == []
    assert "is stale" in caplog.text
    assert c.configuration == ["asking", "day"]

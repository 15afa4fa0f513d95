"""The backend's side of time: schedule, cancel_timer, start(at/interrupt/replace), windows."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from flowhq import (
    Confirm,
    ConversationInProgressError,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    InputError,
    MemoryStore,
    Message,
    OutboundMessage,
    Prompt,
    RecordingMessenger,
)
from flowhq.runtime.outbox import pending
from flowhq.testing import Conversation, ManualClock
from tests.flows import Age


class Reminder(Flow):
    """The day-before reminder, started by the backend."""

    name = "reminder"
    start_data = ("day",)

    confirm = Confirm("Reminder: your visit is {day}. Still coming?", initial=True)
    thanks = Message("See you then!", final=True)
    moved = Message("We'll call you to move it.", final=True)

    yes = confirm.to(thanks)
    no = confirm.to(moved)


class Survey(Flow):
    """Asks one thing; `close` may be scheduled from outside."""

    name = "survey"
    ask = Prompt("How was it?", initial=True)
    thanks = Message("Thanks!", final=True)
    closed = Message("The survey closed.", final=True)

    valid = ask.to(thanks)
    close = ask.to(closed)


KEY = ConversationKey("test", "+15550000000")


def headquarters(*flows: type[Flow], **options: object) -> tuple[Headquarters, ManualClock]:
    clock = ManualClock()
    hq = Headquarters(flows=list(flows), store=MemoryStore(), clock=clock, **options)  # type: ignore[arg-type]
    return hq, clock


async def test_an_interrupting_flow_returns_to_the_exact_question() -> None:
    hq, _ = headquarters(Age, Reminder)
    c = Conversation(hq)
    await c.say("hi")
    assert await c.say("forty") == ["Please send a whole number.\nHow old are you?"]
    replies = await c.start("reminder", data={"day": "tomorrow"}, interrupt=True)
    assert replies == ["Reminder: your visit is tomorrow. Still coming?"]
    assert await c.say("yes") == ["See you then!", "How old are you?"]
    assert c.configuration == ["ask_age"]
    # the question's attempt count survived the detour: one more wrong answer exhausts it
    status = c.state.get_validation_status("ask_age")
    assert status["attempts"] == 1
    assert await c.say("41") == ["Welcome, grown-up."]


async def test_start_over_a_flow_in_progress_must_say_what_to_do() -> None:
    hq, _ = headquarters(Age, Reminder)
    c = Conversation(hq)
    await c.say("hi")
    with pytest.raises(ConversationInProgressError) as info:
        await c.start("reminder", data={"day": "Monday"})
    assert info.value.flow == "age"
    assert "interrupt=True" in str(info.value)
    assert await c.start("reminder", data={"day": "Monday"}, replace=True) == [
        "Reminder: your visit is Monday. Still coming?"
    ]
    assert await c.say("no") == ["We'll call you to move it."]  # no return: it was replaced
    assert c.finished


async def test_a_finished_conversation_can_be_started_without_options() -> None:
    hq, _ = headquarters(Reminder)
    c = Conversation(hq)
    await c.start(data={"day": "Monday"})
    await c.say("yes")
    assert await c.start(data={"day": "Friday"}) == [
        "Reminder: your visit is Friday. Still coming?"
    ]


async def test_start_at_a_later_time() -> None:
    hq, clock = headquarters(Reminder)
    c = Conversation(hq)
    at = clock.now + timedelta(days=1)
    outcome = await hq.start(KEY.channel, KEY.identifier, "reminder", data={"day": "9:00"}, at=at)
    assert outcome.timer is not None
    assert outcome.replies == []
    assert await c.advance(timedelta(hours=23)) == []
    assert await c.advance(timedelta(hours=1)) == ["Reminder: your visit is 9:00. Still coming?"]


async def test_a_scheduled_start_into_a_busy_conversation_is_dropped_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hq, clock = headquarters(Age, Reminder)
    c = Conversation(hq)
    await hq.start(KEY.channel, KEY.identifier, "reminder", data={"day": "x"}, at=clock.now)
    await c.say("hi")  # the message arrives first: the conversation is in Age now
    with caplog.at_level(logging.WARNING):
        assert await c.advance(0) == []
    assert "scheduled start" in caplog.text
    assert c.configuration == ["ask_age"]


async def test_scheduled_events_fire_like_commands_and_can_be_cancelled() -> None:
    hq, _ = headquarters(Survey)
    c = Conversation(hq)
    await c.start()
    timer = await hq.schedule(KEY.channel, KEY.identifier, "close", after=timedelta(days=3))
    assert [t.id for t in await hq.timers(KEY.channel, KEY.identifier)] == [timer]
    assert await hq.cancel_timer(KEY.channel, KEY.identifier, timer)
    assert not await hq.cancel_timer(KEY.channel, KEY.identifier, timer)
    assert await c.advance(timedelta(days=4)) == []
    await hq.schedule(KEY.channel, KEY.identifier, "close", after=60, timer_id="closing")
    await hq.schedule(KEY.channel, KEY.identifier, "close", after=120, timer_id="closing")
    assert len(await hq.timers(KEY.channel, KEY.identifier)) == 1  # the same id replaced
    assert await c.advance(60) == []
    assert await c.advance(60) == ["The survey closed."]


@pytest.mark.parametrize(
    "options",
    [{}, {"at": None, "after": None}, {"after": -1}, {"after": 5, "timer_id": ""}],
)
async def test_bad_schedules_are_refused_before_any_io(options: dict[str, object]) -> None:
    hq, clock = headquarters(Survey)
    with pytest.raises(InputError):
        await hq.schedule(KEY.channel, KEY.identifier, "close", **options)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="aware"):
        await hq.schedule(KEY.channel, KEY.identifier, "close", at=clock.now.replace(tzinfo=None))
    with pytest.raises(InputError, match="plain names"):
        await hq.start(KEY.channel, KEY.identifier, "survey", data={"not a name": 1})
    assert await hq.store.load(KEY) == (await MemoryStore().load(KEY))


async def test_replies_outside_the_service_window_are_recorded_not_sent() -> None:
    messenger = RecordingMessenger(service_window=24 * 3600)
    seen: list[tuple[ConversationKey, list[OutboundMessage], str]] = []
    hq, clock = headquarters(
        Survey, messenger=messenger, on_undeliverable=lambda *a: seen.append(a)
    )
    await hq.handle(InboundMessage(KEY.channel, KEY.identifier, "m1", "hi"))
    await hq.schedule(KEY.channel, KEY.identifier, "close", after=timedelta(hours=25))
    clock.advance(timedelta(hours=25))
    assert await hq.fire_due() == 1
    assert messenger.texts() == ["How was it?"]  # the closing text was not sent
    assert [message.text for message in seen[0][1]] == ["The survey closed."]
    assert "window" in seen[0][2]
    loaded = await hq.store.load(KEY)
    assert pending(loaded) == []  # recorded as a failure, never retried
    assert "window" in next(iter(loaded.failures.values()))
    await hq.handle(InboundMessage(KEY.channel, KEY.identifier, "m2", "hello"))
    document = (await hq.store.load(KEY)).document
    assert document is not None  # the next commit writes the failure into the history
    assert any("window" in (entry.error or "") for entry in document.validation.history)


async def test_timer_replies_without_a_messenger_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hq, clock = headquarters(Survey)
    await hq.start(KEY.channel, KEY.identifier)
    await hq.schedule(KEY.channel, KEY.identifier, "close", after=5)
    clock.advance(5)
    with caplog.at_level(logging.WARNING):
        assert await hq.fire_due() == 1
    assert "has no messenger" in caplog.text


class Asking(Flow):
    """A question with a reminder and a timeout, for interruptions."""

    name = "asking"
    ask = Prompt("Which day?", timeout=3600, reminders=[(600, "Still there?"), (1200, "Hello?")])
    done = Message("Noted.", final=True)
    late = Message("Too late.", final=True)
    valid = ask.to(done)
    timeout = ask.to(late)


async def test_after_an_interruption_no_reminder_is_sent_twice() -> None:
    hq, _ = headquarters(Asking, Reminder)
    c = Conversation(hq)
    await c.start("asking")
    assert await c.advance(600) == ["Still there?"]
    await c.start("reminder", data={"day": "Monday"}, interrupt=True)
    assert await c.say("yes") == ["See you then!", "Which day?"]
    # the first reminder went already; the second comes 1200 s after the question came back
    assert await c.advance(1200) == ["Hello?"]
    assert await c.advance(3600 - 1200) == ["Too late."]

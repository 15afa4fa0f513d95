"""Human handoff: the bot steps aside, keeps the transcript, and takes over again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from flowhq import (
    Choice,
    ConversationInProgressError,
    ConversationKey,
    Flow,
    Handoff,
    Headquarters,
    InboundMessage,
    InputError,
    MemoryStore,
    Message,
    Prompt,
    RecordingMessenger,
    RedisStore,
    Store,
    TranscriptEntry,
)
from flowhq.testing import Conversation, ManualClock
from flowhq.testing.paths import aplan
from flowhq.testing.replay import replay

KEY = ConversationKey("whatsapp", "+15550001")
WHO = (KEY.channel, KEY.identifier)


class Clinic(Flow):
    """A menu with a way to a receptionist; a booking question with a timeout."""

    commands = {"menu": "restart"}

    menu = Choice(
        "How can we help?",
        options={"book": "Book a visit", "talk": "Talk to us"},
        initial=True,
    )
    day = Prompt(
        "Which day?",
        timeout=timedelta(hours=2),
        reminders=[(timedelta(hours=1), "Still there? Which day?")],
    )
    human = Handoff(
        "A receptionist will answer you here.",
        results=("resumed", "booked"),
        timeout=timedelta(hours=8),
    )
    back = Message("Thanks for waiting! Anything else?")
    booked_note = Message("Your visit is booked.", final=True)
    closed = Message("We are closed now; write again tomorrow.", final=True)
    expired = Message("Write again when you are ready.", final=True)
    confirmed = Message("See you on {day}.", final=True)

    book = menu.to(day)
    talk = menu.to(human)
    resumed = human.to(back)
    booked = human.to(booked_note)
    timeout = human.to(closed) | day.to(expired)
    valid = day.to(confirmed)
    done = back.to(menu)
    restart = menu.to(menu) | day.to(menu)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    chosen: Store = MemoryStore()
    if request.param == "redis":
        chosen = RedisStore.from_url(request.getfixturevalue("redis_url"))
    yield chosen
    await chosen.close()


def said(messenger: RecordingMessenger) -> list[str]:
    texts = messenger.texts()
    messenger.sent.clear()
    return texts


class Notes:
    def __init__(self) -> None:
        self.calls: list[tuple[ConversationKey, str, list[TranscriptEntry]]] = []

    async def __call__(
        self, key: ConversationKey, inbound: InboundMessage, transcript: list[TranscriptEntry]
    ) -> None:
        self.calls.append((key, inbound.message_id, transcript))


def user(message_id: str, text: str | None = None, **fields: object) -> InboundMessage:
    return InboundMessage(KEY.channel, KEY.identifier, message_id, text, **fields)  # type: ignore[arg-type]


async def test_a_handoff_pauses_keeps_messages_and_resumes_with_a_result(store: Store) -> None:
    messenger, notes = RecordingMessenger(), Notes()
    hq = Headquarters(flows=[Clinic], store=store, messenger=messenger, on_handoff=notes)
    await hq.handle(user("m1", "hi"))
    outcome = await hq.handle(user("m2", "Talk to us", payload="talk"))
    assert outcome.paused
    assert said(messenger)[-1] == "A receptionist will answer you here."
    paused = await hq.paused_conversations()
    assert [(p.identifier, p.reason, p.state) for p in paused] == [
        (KEY.identifier, "handoff", "human")
    ]

    # While paused: kept, handed to on_handoff, never answered (commands included).
    for number, text in enumerate(["I need to move my visit", "menu", "hello?"], start=3):
        outcome = await hq.handle(user(f"m{number}", text))
        assert outcome.paused
        assert outcome.replies == []
    assert said(messenger) == []
    assert [message_id for _, message_id, _ in notes.calls] == ["m2", "m3", "m4", "m5"]
    assert notes.calls[-1][2][-1].text == "hello?"
    assert (await hq.paused_conversations())[0].waiting == 3

    # A duplicate of a kept message is not kept twice.
    await hq.handle(user("m4", "menu"))
    assert len(notes.calls) == 4

    await hq.reply_as_agent(*WHO, "Moved to Friday.", agent="Ana")
    assert said(messenger) == ["Moved to Friday."]
    outcome = await hq.resume(KEY.channel, KEY.identifier, result="booked")
    assert not outcome.paused
    assert outcome.finished
    assert said(messenger) == ["Your visit is booked."]
    assert await hq.paused_conversations() == []

    transcript = await hq.transcript(KEY.channel, KEY.identifier)
    assert [(e.direction, e.text, e.agent) for e in transcript][-7:] == [
        ("in", "Talk to us", None),
        ("out", "A receptionist will answer you here.", None),
        ("in", "I need to move my visit", None),
        ("in", "menu", None),
        ("in", "hello?", None),
        ("out", "Moved to Friday.", "Ana"),
        ("out", "Your visit is booked.", None),
    ]


async def test_pause_anywhere_holds_the_question_and_resume_asks_it_again(store: Store) -> None:
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Clinic], store=store, messenger=messenger, clock=clock)
    await hq.handle(user("m1", "hi"))
    await hq.handle(user("m2", "Book a visit", payload="book"))
    assert said(messenger)[-1] == "Which day?"

    outcome = await hq.pause(KEY.channel, KEY.identifier, reason="agent Ana")
    assert outcome.paused
    assert (await hq.pause(KEY.channel, KEY.identifier)).revision == outcome.revision
    clock.advance(timedelta(hours=5))  # past the question's reminder and timeout
    assert await hq.fire_due() == 0
    assert said(messenger) == []
    await hq.handle(user("m3", "can I come monday?"))
    assert said(messenger) == []

    outcome = await hq.resume(KEY.channel, KEY.identifier)
    assert said(messenger) == ["Which day?"]
    assert not outcome.paused
    # The question's timers start again from the resume: reminder in 1h, timeout in 2h.
    due = sorted((t.id, t.due - clock().timestamp()) for t in await hq.timers(*WHO))
    assert due == [("day.reminder1", 3600.0), ("day.timeout", 7200.0)]
    await hq.handle(user("m4", "Monday"))
    assert said(messenger) == ["See you on Monday."]


async def test_the_handoff_timeout_gives_the_conversation_back(store: Store) -> None:
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Clinic], store=store, messenger=messenger, clock=clock)
    await hq.handle(user("m1", "hi"))
    await hq.handle(user("m2", "Talk to us", payload="talk"))
    said(messenger)
    clock.advance(timedelta(hours=8, seconds=1))
    assert await hq.fire_due() == 1
    assert said(messenger) == ["We are closed now; write again tomorrow."]
    assert await hq.paused_conversations() == []
    document = (await store.load(KEY)).document
    assert document is not None
    assert document.paused is None


async def test_resume_refuses_results_the_state_does_not_declare(store: Store) -> None:
    hq = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger())
    await hq.handle(user("m1", "hi"))
    await hq.handle(user("m2", "Talk to us", payload="talk"))
    with pytest.raises(InputError, match="resumes with one of"):
        await hq.resume(*WHO, result="cancelled")
    with pytest.raises(InputError, match="resumes with one of"):
        await hq.resume(*WHO, result="timeout")
    assert (await hq.paused_conversations())[0].state == "human"
    outcome = await hq.resume(*WHO)
    assert outcome.replies[0].text == "Thanks for waiting! Anything else?"
    # Resuming again changes nothing.
    again = await hq.resume(*WHO)
    assert again.revision == outcome.revision
    assert again.replies == []


async def test_a_start_does_not_take_a_conversation_from_a_person(store: Store) -> None:
    hq = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger())
    await hq.pause(*WHO, reason="vip")
    with pytest.raises(ConversationInProgressError):
        await hq.start(*WHO, interrupt=True)
    outcome = await hq.start(*WHO, replace=True)
    assert not outcome.paused
    assert outcome.replies[0].text == "How can we help?"


async def test_a_failing_on_handoff_loses_no_message(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(key: ConversationKey, inbound: InboundMessage, transcript: object) -> None:
        raise RuntimeError("help desk down")

    hq = Headquarters(
        flows=[Clinic], store=store, messenger=RecordingMessenger(), on_handoff=broken
    )
    await hq.pause(*WHO)
    outcome = await hq.handle(user("m1", "my secret is 1234"))
    assert outcome.paused
    assert "on_handoff failed for message m1" in caplog.text
    assert "1234" not in caplog.text
    assert [e.text for e in await hq.transcript(*WHO)] == ["my secret is 1234"]


async def test_the_transcript_is_bounded_and_redacts_the_token(store: Store) -> None:
    hq = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger(), transcript=5)
    await hq.initialize(*WHO, auth_token="tok-SECRET-1")
    await hq.pause(*WHO)
    for number in range(12):
        await hq.handle(user(f"m{number}", f"message {number} tok-SECRET-1"))
    transcript = await hq.transcript(*WHO)
    assert [e.text for e in transcript] == [f"message {n} ***" for n in range(7, 12)]


async def test_with_the_transcript_off_only_a_pause_keeps_messages(store: Store) -> None:
    hq = Headquarters(flows=[Clinic], store=store, messenger=RecordingMessenger(), transcript=0)
    await hq.handle(user("m1", "hi"))
    assert await hq.transcript(*WHO) == []
    await hq.pause(*WHO)
    await hq.handle(user("m2", "anyone?"))
    assert [e.text for e in await hq.transcript(*WHO)] == ["anyone?"]
    await hq.resume(*WHO)
    await hq.handle(user("m3", "Book a visit", payload="book"))
    assert await hq.transcript(*WHO) == []


async def test_agent_replies_are_checked_before_any_io() -> None:
    hq = Headquarters(flows=[Clinic], store=MemoryStore(), messenger=RecordingMessenger())
    with pytest.raises(InputError, match="empty"):
        await hq.reply_as_agent(*WHO, "   ")
    with pytest.raises(InputError, match="longer than"):
        await hq.reply_as_agent(*WHO, "x" * 5000)
    assert await hq.store.load(KEY) is not None
    assert (await hq.store.load(KEY)).document is None


async def test_generated_paths_resume_with_every_result_and_replay() -> None:
    plan = await aplan(Clinic)
    assert plan.unreached == set()
    actions = [[move.describe_action() for move in path.moves] for path in plan.paths]
    assert ["(start)", "say 'talk'", "resume with 'booked'"] in actions
    assert any("resume with 'resumed'" in moves for moves in actions)
    assert any("wait 8h (human.timeout)" in moves for moves in actions)
    for path in plan.paths:
        report = await replay(Clinic, path, clock=ManualClock())
        assert report.followed, str(report)


async def test_the_harness_pauses_answers_and_resumes() -> None:
    async with Conversation(Clinic) as chat:
        await chat.say("hi")
        await chat.press("book")
        assert await chat.pause(reason="vip") == []
        assert chat.paused
        assert await chat.say("are you there?") == []
        assert await chat.reply_as_agent("Yes, Ana here.", agent="Ana") == ["Yes, Ana here."]
        assert await chat.resume() == ["Which day?"]
        assert not chat.paused
        assert await chat.say("Friday") == ["See you on Friday."]


def test_diagrams_say_a_person_resumes_a_handoff() -> None:
    from flowhq.diagrams import to_mermaid

    drawn = to_mermaid(Clinic)
    assert "human --> booked_note : booked (by a person)" in drawn
    assert "human --> back : resumed (by a person)" in drawn
    assert "human --> closed : timeout (after 8h)" in drawn


def test_a_handoff_that_declares_timeout_as_a_resume_is_refused() -> None:
    from flowhq import FlowDefinitionError

    with pytest.raises(FlowDefinitionError, match="'timeout' is the result of timeout="):

        class Wrong(Flow):
            human = Handoff("Wait for us.", results=("resumed", "timeout"), initial=True)
            end = Message("Bye.", final=True)
            resumed = human.to(end)
            timeout = human.to(end)

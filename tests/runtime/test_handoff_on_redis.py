"""Handoff on a real redis-server: in every example flow, under concurrency, across a deploy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from examples.clinic import Booking, VisitReminder
from examples.order_status import OrderStatus
from examples.pizza import PizzaOrder
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    ConversationKey,
    Flow,
    Handoff,
    Headquarters,
    InboundMessage,
    Message,
    Prompt,
    RecordingMessenger,
    RedisStore,
)
from flowhq.testing import Conversation, ManualClock
from flowhq.testing import paths as generated
from flowhq.testing.paths import aplan

HERE = Path(__file__).resolve().parent


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    chosen = RedisStore.from_url(redis_url)
    await chosen.client.flushdb()
    yield chosen
    await chosen.close()


def spawn_resumer(url: str, users: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.runtime.handoff_resumer", url, *users]
    return subprocess.Popen(command, cwd=HERE.parent.parent)


def longest(paths: list[generated.Path]) -> generated.Path:
    return max(paths, key=lambda path: sum(move.kind == "say" for move in path.moves))


async def play(chat: Conversation, path: generated.Path, *, pause_before: int | None) -> list[str]:
    """Replay ``path``; before move ``pause_before`` a person takes over, then resumes."""
    replies: list[str] = []
    for index, move in enumerate(path.moves):
        if index == pause_before:
            question = await chat.hq.pending(chat.key.channel, chat.key.identifier)
            assert await chat.pause(reason="agent") == []
            assert await chat.say("is anyone there?") == []
            assert await chat.reply_as_agent("Yes, one moment.", agent="Ana") == [
                "Yes, one moment."
            ]
            assert await chat.resume() == [message.text for message in question]
        chat.clear_forced()
        for state, result in move.forced:
            values = {name: value for s, name, value in move.saved if s == state}
            chat.force_result(state, result, values=values)
        if move.kind == "start":
            replies += await chat.start(path.flow, data=dict(move.data), replace=True)
        elif move.kind == "wait":
            replies += await chat.advance(move.after)
        else:
            assert move.input is not None
            replies += await chat.say(move.input)
    return replies


@pytest.mark.parametrize(
    "flow",
    [Signup, SupportMenu, OrderStatus, PizzaOrder, Booking, VisitReminder],
    ids=lambda f: f.name,
)
async def test_a_handoff_in_the_middle_of_each_example_changes_nothing_after(
    store: RedisStore, flow: type[Flow]
) -> None:
    path = longest((await aplan(flow)).paths)
    says = [index for index, move in enumerate(path.moves) if move.kind == "say"]
    middle = says[len(says) // 2] if says else len(path.moves) - 1
    plain = Conversation(flow, store=store, identifier="+1", clock=ManualClock())
    handed = Conversation(flow, store=store, identifier="+2", clock=ManualClock())
    async with plain, handed:
        expected = await play(plain, path, pause_before=None)
        got = await play(handed, path, pause_before=middle)
        assert got == expected
        assert plain.configuration == handed.configuration


class Desk(Flow):
    """Every conversation goes straight to a person, then the bot chats on."""

    human = Handoff("A person will answer.", initial=True)
    back = Message("The bot is back.")
    chat = Prompt("Anything else?")
    resumed = human.to(back)
    done = back.to(chat)
    valid = chat.to(chat)


async def test_50_paused_conversations_resumed_by_two_processes_while_users_write(
    store: RedisStore, redis_url: str
) -> None:
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Desk], store=store, messenger=messenger)
    users = [f"+1555{n:04d}" for n in range(50)]
    for user in users:
        await hq.handle(InboundMessage("whatsapp", user, f"{user}-0", "hi"))
    assert len(await hq.paused_conversations()) == 50

    resumers = [spawn_resumer(redis_url, users) for _ in range(2)]

    async def user_writes(user: str) -> None:
        for number in range(1, 6):
            await hq.handle(InboundMessage("whatsapp", user, f"{user}-{number}", f"msg {number}"))

    await asyncio.gather(*(user_writes(user) for user in users))
    for process in resumers:
        assert await asyncio.to_thread(process.wait, 60) == 0

    assert await hq.paused_conversations() == []
    for user in users:
        loaded = await store.load(ConversationKey("whatsapp", user))
        document = loaded.document
        assert document is not None
        assert document.paused is None
        # Every message was committed once: five after "hi", kept or stepped, none lost.
        assert sorted(document.inbox) == sorted(f"{user}-{n}" for n in range(6))
        backs = [t for t in document.transcript if t.text == "The bot is back."]
        assert len(backs) == 1  # resumed once, though two processes resumed it
        kept = [t.text for t in document.transcript if t.direction == "in"]
        assert kept == ["hi", *(f"msg {n}" for n in range(1, 6))]


async def test_an_agent_reply_during_a_user_message_loses_neither(store: RedisStore) -> None:
    key = ConversationKey("whatsapp", "+15550001")
    messenger = RecordingMessenger()
    # Two Headquarters, as two processes: one serves the webhook, one the operator page.
    bot = Headquarters(flows=[Desk], store=store, messenger=messenger)
    page = Headquarters(flows=[Desk], store=RedisStore(store.client), messenger=messenger)
    await bot.handle(InboundMessage(key.channel, key.identifier, "m0", "hi"))
    for round_ in range(20):
        await asyncio.gather(
            bot.handle(InboundMessage(key.channel, key.identifier, f"u{round_}", f"user {round_}")),
            page.reply_as_agent(key.channel, key.identifier, f"agent {round_}", agent="Ana"),
        )
    transcript = await bot.transcript(key.channel, key.identifier)
    texts = [entry.text for entry in transcript]
    for round_ in range(20):
        assert texts.count(f"user {round_}") == 1
        assert texts.count(f"agent {round_}") == 1
    sent = [text for text in messenger.texts() if text.startswith("agent")]
    assert sorted(sent) == sorted(f"agent {n}" for n in range(20))  # each exactly once


class Before(Flow):
    name = "desk"
    ask = Prompt("Your name?", initial=True)
    human = Handoff("A person will answer.", results=("resumed", "solved"))
    back = Message("Back to the bot.", final=True)
    solved_note = Message("Glad we could help.", final=True)
    valid = ask.to(human)
    resumed = human.to(back)
    solved = human.to(solved_note)


class After(Flow):
    """The next release renamed the Handoff state; a migration maps the old name."""

    name = "desk"
    migrations = {"human": "receptionist"}
    ask = Prompt("Your name?", initial=True)
    receptionist = Handoff(
        "A receptionist will answer.", results=("resumed", "solved"), timeout=timedelta(hours=1)
    )
    back = Message("Back to the bot.", final=True)
    solved_note = Message("Glad we could help.", final=True)
    valid = ask.to(receptionist)
    resumed = receptionist.to(back)
    solved = receptionist.to(solved_note)
    timeout = receptionist.to(back)


async def test_resume_after_a_deploy_that_renamed_the_handoff_state(store: RedisStore) -> None:
    key = ConversationKey("whatsapp", "+15550001")
    old = Headquarters(flows=[Before], store=store, messenger=RecordingMessenger())
    await old.handle(InboundMessage(key.channel, key.identifier, "m1", "hi"))
    await old.handle(InboundMessage(key.channel, key.identifier, "m2", "Ann"))
    assert (await old.paused_conversations())[0].state == "human"

    new = Headquarters(flows=[After], store=store, messenger=RecordingMessenger())
    outcome = await new.resume(key.channel, key.identifier, result="solved")
    assert [reply.text for reply in outcome.replies] == ["Glad we could help."]
    assert outcome.finished
    assert not outcome.paused


async def test_the_transcript_stays_bounded_over_10_000_messages(store: RedisStore) -> None:
    key = ConversationKey("whatsapp", "+15550001")
    hq = Headquarters(flows=[Desk], store=store, messenger=RecordingMessenger())
    await hq.handle(InboundMessage(key.channel, key.identifier, "m0", "hi"))
    sizes = []
    for number in range(1, 10_001):
        await hq.handle(InboundMessage(key.channel, key.identifier, f"m{number}", f"note {number}"))
        if number % 2_500 == 0:
            sizes.append(await store.client.hstrlen(store.keys.key(key), "doc"))
    transcript = await hq.transcript(key.channel, key.identifier)
    assert len(transcript) == 50
    assert transcript[-1].text == "note 10000"
    assert transcript[0].text == "note 9951"
    assert max(sizes) - min(sizes) < 200  # the stored document stopped growing

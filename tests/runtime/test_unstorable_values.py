"""Values JSON (or the store) cannot hold fail inside the component that saved them: once,
with an apology to the user, and the message is recorded so a retried webhook runs nothing."""

from __future__ import annotations

import datetime
import logging

import pytest

from flowhq import (
    Action,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    Message,
    Prompt,
    RecordingMessenger,
    RedisStore,
    StateManager,
)

KEY = ConversationKey("whatsapp", "+15550001")


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def texts(outcome: object) -> list[str]:
    return [reply.text for reply in outcome.replies]  # type: ignore[attr-defined]


SIDE_EFFECTS: list[str] = []


def stamp(state_manager: StateManager) -> str:
    SIDE_EFFECTS.append("charged the card")
    state_manager.save_value("when", datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    return "done"


class Stamped(Flow):
    ask = Prompt("Go?", initial=True)
    act = Action(stamp, saves=("when",))
    end = Message("Stamped at {when}.", final=True)
    valid = ask.to(act)
    done = act.to(end)


async def test_a_value_json_cannot_hold_fails_in_its_state_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    SIDE_EFFECTS.clear()
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Stamped], store=store)
    await hq.handle(msg("m1"))
    caplog.set_level(logging.ERROR, logger="flowhq")
    outcome = await hq.handle(msg("m2", "yes"))
    assert texts(outcome) == [hq.error_handler.apology]
    assert "error in state act" in caplog.text
    assert "state 'act': value 'when': a datetime cannot be stored" in caplog.text
    assert caplog.text.count("error in state act") == 1  # logged once
    again = await hq.handle(msg("m2", "yes"))  # the webhook is retried
    assert again.duplicate
    assert SIDE_EFFECTS == ["charged the card"]  # not run again by the retry
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.validation.history[-1].component == "act"
    await store.close()


async def test_an_integer_json_can_hold_but_the_store_cannot_fails_in_its_component(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def huge(state_manager: StateManager) -> str:
        state_manager.save_value("n", 2**64)
        return "done"

    class Huge(Flow):
        name = "huge"
        ask = Prompt("Go?", initial=True)
        work = Action(huge, saves=("n",))
        end = Message("{n}", final=True)
        valid = ask.to(work)
        done = work.to(end)

    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Huge], store=store, messenger=RecordingMessenger())
    await hq.handle(msg("m1"))
    outcome = await hq.handle(msg("m2", "go"))
    assert "64 bits" in caplog.text
    assert "'work'" in caplog.text
    assert texts(outcome)  # the user hears an apology, not silence
    again = await hq.handle(msg("m2", "go"))
    assert again.duplicate  # the message was recorded: it is not retried forever
    await store.close()

"""What a Headquarters tells its observers, and the log context of a conversation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import pytest

from flowhq import Headquarters, InboundMessage, MemoryStore, RecordingMessenger
from flowhq.errors import DeliveryError, InputError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import OutboundMessage
from flowhq.observability import (
    Conflict,
    Event,
    Handled,
    Paused,
    Redelivered,
    Sent,
    StepDone,
    TimerFired,
    TimersDue,
    hashed,
)
from flowhq.testing import ManualClock
from tests.flows import Age


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def observe(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [event for event in self.events if isinstance(event, kind)]


def message(n: int, text: str, user: str = "+15550100") -> InboundMessage:
    return InboundMessage("whatsapp", user, f"m{n}", text)


async def test_steps_messages_and_the_funnel() -> None:
    recorder = Recorder()
    hq = Headquarters(
        flows=[Age], store=MemoryStore(), messenger=RecordingMessenger(), observers=[recorder]
    )
    await hq.handle(message(1, "hi"))
    await hq.handle(message(2, "40"))
    await hq.handle(message(2, "40"))  # Meta delivers it again
    await hq.handle(message(3, ""))  # refused before any I/O
    with pytest.raises(InputError):
        await hq.handle(InboundMessage("whatsapp", "", "m4", "hi"))  # malformed
    first, second = recorder.of(StepDone)
    assert (first.flow, first.before, first.after, first.entered) == (
        "age",
        (),
        ("ask_age",),
        ("ask_age",),
    )
    assert (second.before, second.after, second.entered, second.final) == (
        ("ask_age",),
        ("adult",),
        ("adult",),
        "adult",
    )
    assert second.retries == 0
    assert second.seconds > 0
    assert [(e.flow, e.outcome) for e in recorder.of(Handled)] == [
        ("age", "processed"),
        ("age", "processed"),
        ("age", "duplicate"),
        (None, "rejected"),
        (None, "rejected"),
    ]
    assert [(e.result, e.code, e.messages) for e in recorder.of(Sent)] == [
        ("sent", None, 1),
        ("sent", None, 1),
        ("sent", None, 1),  # the refusal
    ]


async def test_a_conflict_is_reported_and_the_step_counts_its_retry() -> None:
    store = MemoryStore()
    recorder = Recorder()
    one = Headquarters(flows=[Age], store=store, observers=[recorder])
    other = Headquarters(flows=[Age], store=store)
    await one.handle(message(1, "hi"))  # `one` caches the conversation
    await other.handle(message(2, "x"))  # an invalid answer, committed by another process
    await one.handle(message(3, "40"))  # `one`'s copy is stale: its commit loses once
    assert recorder.of(Conflict) == [Conflict("age")]
    assert recorder.of(StepDone)[-1].retries == 1


async def test_a_refused_send_reports_its_code_and_redelivery_what_it_found() -> None:
    class Refusing(RecordingMessenger):
        refuse = True

        async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
            if self.refuse:
                raise DeliveryError("HTTP 400", permanent=False, code=131056)
            await super().send(key, messages)

    recorder = Recorder()
    messenger = Refusing()
    hq = Headquarters(flows=[Age], store=MemoryStore(), messenger=messenger)
    hq.observers.append(recorder)  # attached after construction
    await hq.handle(message(1, "hi"))
    assert [(e.result, e.code) for e in recorder.of(Sent)] == [("temporary", 131056)]
    messenger.refuse = False
    assert await hq.redeliver(older_than=0) == 1
    assert recorder.of(Redelivered) == [Redelivered(sent=1, pending=1)]


async def test_timers_report_how_many_were_due_and_their_lag() -> None:
    clock = ManualClock()
    recorder = Recorder()
    hq = Headquarters(flows=[Age], store=MemoryStore(), clock=clock, observers=[recorder])
    await hq.handle(message(1, "hi"))
    await hq.schedule("whatsapp", "+15550100", "cancel", after=timedelta(minutes=10))
    clock.advance(timedelta(minutes=10, seconds=3))
    assert await hq.fire_due() == 1
    assert recorder.of(TimersDue) == [TimersDue(1)]
    (fired,) = recorder.of(TimerFired)
    assert fired.flow == "age"
    assert fired.lag == pytest.approx(3, abs=0.01)
    assert recorder.of(StepDone)[-1].final == "give_up"


async def test_notify_passes_events_from_outside_the_cycle() -> None:
    recorder = Recorder()
    hq = Headquarters(flows=[Age], store=MemoryStore(), observers=[recorder])
    hq.notify(Paused(3))
    assert recorder.events == [Paused(3)]


async def test_log_records_carry_the_hashed_conversation_flow_and_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing(RecordingMessenger):
        async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
            raise DeliveryError("channel down", permanent=False)

    hq = Headquarters(flows=[Age], store=MemoryStore(), messenger=Failing())
    await hq.handle(message(1, "hi"))
    with caplog.at_level(logging.WARNING, logger="flowhq"):
        await hq.handle(message(2, "x"))
    record = [r for r in caplog.records if "stay in the outbox" in r.getMessage()][-1]
    assert record.conversation == hashed(ConversationKey("whatsapp", "+15550100"))  # type: ignore[attr-defined]
    assert record.flow == "age"  # type: ignore[attr-defined]
    assert record.state == "ask_age"  # type: ignore[attr-defined]
    assert "+15550100" not in caplog.text


def test_every_flowhq_logger_carries_the_context_filter() -> None:
    import re
    from pathlib import Path

    from flowhq.observability.logs import LOGGERS

    source = Path(__file__).resolve().parents[2] / "src" / "flowhq"
    names = {
        name
        for path in source.rglob("*.py")
        for name in re.findall(r'getLogger\("([^"]+)"\)', path.read_text())
    }
    assert names <= set(LOGGERS)


async def test_log_records_of_a_timer_firing_carry_the_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    hq = Headquarters(flows=[Age], store=MemoryStore(), clock=clock)
    await hq.handle(message(1, "hi"))
    await hq.schedule("whatsapp", "+15550100", "cancel", after=timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    with caplog.at_level(logging.WARNING, logger="flowhq"):
        assert await hq.fire_due() == 1
    (record,) = [r for r in caplog.records if "were not sent" in r.getMessage()]
    assert record.conversation == hashed(ConversationKey("whatsapp", "+15550100"))  # type: ignore[attr-defined]
    assert record.flow == "age"  # type: ignore[attr-defined]
    assert "+15550100" not in caplog.text

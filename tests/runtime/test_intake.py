"""Intake: bad input is refused up front as a flowhq error, before any I/O; odd answers
are unknown answers, and answer ids need not be Python names."""

from __future__ import annotations

import pytest

from examples.support_menu import SupportMenu
from flowhq import (
    Choice,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    InputError,
    MemoryStore,
    Message,
)
from flowhq.persistence.codec import JsonCodec
from flowhq.state.document import Channel, ConversationDocument, OutboxEntry
from tests.flows import Age


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def texts(outcome: object) -> list[str]:
    return [reply.text for reply in outcome.replies]  # type: ignore[attr-defined]


class NoIO(MemoryStore):
    async def load(self, key: ConversationKey) -> object:  # type: ignore[override]
        raise AssertionError("no I/O expected")


@pytest.mark.parametrize(
    "inbound",
    [
        msg("m1", "\ud800"),  # valid JSON after json.loads, not storable text
        msg("\udfff"),
        InboundMessage("whatsapp", "+1\ud800", "m1", "hi"),
        msg("m1", None, payload="\ud800", kind="interactive"),
        msg("m1", 42),  # type: ignore[arg-type]
        msg(42),  # type: ignore[arg-type]
        msg("m1", None, payload=["yes"], kind="interactive"),  # type: ignore[arg-type]
        InboundMessage("whatsapp", 15550001, "m1", "hi"),  # type: ignore[arg-type]
        InboundMessage(None, "+1", "m1", "hi"),  # type: ignore[arg-type]
        msg("x" * 257),
        InboundMessage("whatsapp", "+" + "1" * 300, "m1", "hi"),
        msg("m1", "hi", kind=None),  # type: ignore[arg-type]
    ],
    ids=lambda m: repr(m)[:60],
)
async def test_bad_input_is_an_input_error_before_any_io(inbound: InboundMessage) -> None:
    hq = Headquarters(flows=[Age], store=NoIO())
    with pytest.raises(InputError):
        await hq.handle(inbound)


@pytest.mark.parametrize("answer", ["²", "٣", "1" * 4000, "0", "4", "-1", "1.5"])
async def test_odd_menu_numbers_are_unknown_answers(
    answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    hq = Headquarters(flows=[SupportMenu], store=MemoryStore())
    await hq.handle(msg("m1"))
    outcome = await hq.handle(msg("m2", answer))
    assert texts(outcome) == ["Please pick one of the options.\nHow can we help?"]
    assert "ERROR" not in caplog.text


class Tidy(Flow):
    """Kept for the invariant below: a flow whose Action saves a JSON-able value."""

    ask = Choice("Pick", options={"a": "A", "b-b": "B b"}, initial=True)
    note = Message("You picked {ask}.", final=True)
    chosen = ask.to(note)


def _outbox_entry_is_storable() -> None:
    document = ConversationDocument(channel=Channel("whatsapp", "+1"))
    document.outbox.append(OutboxEntry(1, "x"))
    JsonCodec().encode(document)


async def test_choice_ids_need_not_be_python_names() -> None:
    _outbox_entry_is_storable()
    hq = Headquarters(flows=[Tidy], store=MemoryStore())
    await hq.handle(msg("m1"))
    outcome = await hq.handle(msg("m2", None, payload="b-b", kind="interactive"))
    assert texts(outcome) == ["You picked B b."]

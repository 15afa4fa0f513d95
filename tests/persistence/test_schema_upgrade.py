"""Conversations stored by flowhq 0.1 (schema 1) still load and continue, on a real Redis.

The fixtures are documents 0.1 wrote, byte for byte (tests/fixtures/v1_*.json). Schema 1 kept
saved values and component data in one map; the codec upgrades the document as it reads it,
and the first step splits component data back out by the flow's state ids.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from examples.demo_api import DemoApi
from flowhq import (
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    RecordingMessenger,
    RedisStore,
)
from flowhq.errors import SnapshotError
from flowhq.persistence.codec import JsonCodec
from flowhq.state.document import SCHEMA_VERSION
from tests.flows_v01 import OrderStatus, Signup, SupportMenu

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY = ConversationKey("whatsapp", "+15550001")


def stored_by_0_1(url: str, name: str) -> None:
    with redis.Redis.from_url(url) as admin:
        admin.hset(
            "flowhq:{whatsapp:+15550001}", mapping={"doc": (FIXTURES / name).read_bytes(), "rev": 4}
        )


@pytest.mark.parametrize(
    ("fixture", "flow", "answer", "expected", "values", "data"),
    [
        (
            "v1_signup_at_confirm.json",
            Signup,
            "yes",
            ["Welcome aboard, Ann!"],
            {"name": "Ann", "email": "ann@example.com"},
            {},  # finished: component data goes, saved values stay
        ),
        (
            "v1_order_after_lookup.json",
            OrderStatus,
            "yes",
            ["What's your order number?"],
            {"order_id": "A100", "status": "shipped", "eta": "tomorrow"},
            {
                "lookup": {
                    "status": 200,
                    "response": {"id": "A100", "status": "shipped", "eta": "tomorrow"},
                }
            },
        ),
        (
            "v1_support_in_device.json",
            SupportMenu,
            "laptop",
            [
                "Answer the question, or type 'cancel' to stop. Back to it:",  # pending in 0.1
                "Which device?\n1. Phone\n2. Laptop",  # as 0.1 rendered it
                "What happens on your Laptop?",
            ],
            {"device": "laptop"},
            {},
        ),
    ],
)
async def test_a_conversation_stored_by_0_1_continues(
    redis_url: str,
    fixture: str,
    flow: type[Flow],
    answer: str,
    expected: list[str],
    values: dict[str, object],
    data: dict[str, object],
) -> None:
    stored_by_0_1(redis_url, fixture)
    store = RedisStore.from_url(redis_url)
    messenger = RecordingMessenger()
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=DemoApi()), base_url="http://api")
    hq = Headquarters(flows=[flow], store=store, messenger=messenger, api=api)
    await hq.handle(InboundMessage("whatsapp", "+15550001", "wamid.next", answer))
    assert messenger.texts() == expected
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.metadata.schema == SCHEMA_VERSION == 4
    assert loaded.document.metadata.upgraded_from is None  # the split is done, and stored
    for name, value in values.items():
        assert loaded.document.current.values.get(name) == value, name
    for state_id, own in data.items():
        assert loaded.document.current.data.get(state_id) == own
    assert not set(loaded.document.current.values) & set(flow.states_map)  # no state ids left
    await store.close()


def test_the_fixtures_are_schema_1() -> None:
    for path in FIXTURES.glob("v1_*.json"):
        assert b'"schema":1' in path.read_bytes()
        JsonCodec().decode("k", path.read_bytes())  # and they decode


@pytest.mark.parametrize("schema", [2, 3])
def test_a_schema_2_or_3_document_reads_as_schema_4_without_the_newer_fields(schema: int) -> None:
    raw = (
        b'{"channel":{"type":"whatsapp","identifier":"+1"},"current":{"path":"signup"},'
        b'"_metadata":{"schema":%d,"initialized_at":"2026-11-27T10:58:20+00:00",'
        b'"updated_at":"2026-11-27T10:58:20+00:00"}}' % schema
    )
    document = JsonCodec().decode("k", raw)
    assert document.metadata.schema == 4
    assert document.timers == []
    assert document.stack == []
    assert document.paused is None
    assert document.transcript == []


def test_a_paused_document_with_its_transcript_round_trips() -> None:
    codec = JsonCodec()
    raw = (
        b'{"channel":{"type":"whatsapp","identifier":"+1"},'
        b'"paused":{"since":"2026-11-27T10:58:20+00:00","reason":"handoff","state":"human",'
        b'"held":[{"id":"t1","due":1.5,"kind":"event","seq":"-","event":"nudge"}]},'
        b'"transcript":[{"at":"2026-11-27T10:58:20+00:00","direction":"in","text":"hi"}],'
        b'"_metadata":{"schema":4,"initialized_at":"2026-11-27T10:58:20+00:00",'
        b'"updated_at":"2026-11-27T10:58:20+00:00"}}'
    )
    document = codec.decode("k", raw)
    assert document.paused is not None
    assert document.paused.held[0].event == "nudge"
    assert codec.decode("k", codec.encode(document)) == document
    with pytest.raises(SnapshotError, match=r"paused\.since"):
        codec.decode("k", raw.replace(b'2026-11-27T10:58:20+00:00","reason', b'yesterday","reason'))
    with pytest.raises(SnapshotError, match="transcript"):
        codec.decode("k", raw.replace(b'"text":"hi"', b'"text":5'))
    with pytest.raises(SnapshotError, match="transcript"):
        codec.decode("k", raw.replace(b'"text":"hi"', b'"text":"hi","extra":1'))

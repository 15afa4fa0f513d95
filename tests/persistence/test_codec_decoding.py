"""Decoding a stored document: a valid document or ``SnapshotError``, whatever the bytes.

Strict types are tested in test_templates_codec; here: unknown fields, the ranges flowhq
writes, documents a commit could not write back, and fuzzing (random bytes, random JSON,
valid documents with one part replaced or one field added).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowhq import SnapshotError
from flowhq.persistence import JsonCodec
from flowhq.persistence.secrets import TokenCipher
from flowhq.state.document import (
    Auth,
    Channel,
    ChartState,
    ConversationDocument,
    OutboxEntry,
    ValidationEntry,
)

KEY = "whatsapp:+15550001"
CODEC = JsonCodec()


def full_document() -> ConversationDocument:
    """A document with something in every field."""
    document = ConversationDocument(
        channel=Channel("whatsapp", "+15550001"),
        dashboard={"plan": "gold", "limits": [1, 2.5, None, True]},
        action={"order": {"id": "A1"}},
        auth=Auth("token-123"),
        chart=ChartState("signup", "abc", ["ask_email"], {"h": ["ask_name"]}),
        inbox=["wamid.1", "wamid.2"],
        outbox=[OutboxEntry(3, "Pick one", [("a", "A"), ("b", "B")], 1.7e9, "3", ["x", None])],
    )
    current = document.current
    current.path, current.component, current.awaiting_input = "signup", "ask_email", True
    current.data = {"ask_email": {"failures": 1}}
    current.values = {"name": "Ann", "nested": {"k": [1, {"z": "y"}]}}
    current.labels = {"plan": "Gold"}
    current.tags = {"ask_email": "3", "ask_name": "1z"}
    document.validation.attempts = {"ask_email": 2}
    document.validation.history = [
        ValidationEntry("ask_email", "ask_email", "2026-01-01T00:00:00+00:00", False, "bad")
    ]
    document.metadata.last_inbound_at = "2026-01-01T00:00:00.000001+00:00"
    return document


def stored(**changes: Any) -> bytes:
    """The full document's JSON with ``changes`` applied (dotted paths)."""
    data = orjson.loads(CODEC.encode(full_document()))
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return json.dumps(data).encode()  # orjson would refuse the deepest test values


def decodes_or_refuses(raw: bytes, codec: JsonCodec = CODEC) -> None:
    """The decode contract: a document that can be written back, or ``SnapshotError``."""
    try:
        document = codec.decode(KEY, raw)
    except SnapshotError:
        return
    again = codec.decode(KEY, codec.encode(document))
    assert again == document


def test_the_full_document_round_trips() -> None:
    document = full_document()
    assert CODEC.decode(KEY, CODEC.encode(document)) == document


@pytest.mark.parametrize(
    "path",
    ["evil", "current.evil", "chart.evil", "outbox.0.evil", "_metadata.evil", "auth.evil"],
)
def test_an_unknown_field_is_a_snapshot_error_naming_it(path: str) -> None:
    with pytest.raises(SnapshotError) as info:
        CODEC.decode(KEY, stored(**{path: 1}))
    reason = info.value.reason
    assert reason.startswith("unknown fields")
    assert "evil" in reason
    assert "newer flowhq" in reason


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("validation.attempts.ask_email", -1, "validation.attempts"),
        ("validation.attempts.ask_email", 2**64 - 1, "validation.attempts"),
        ("current.tags.ask_email", "-5", "current.tags"),
        ("current.tags.ask_email", "", "current.tags"),
        ("current.tags.ask_email", "ABC", "current.tags"),
        ("current.tags.ask_email", "1" * 13, "current.tags"),
        ("outbox.0.revision", -5, "outbox[0].revision"),
        ("outbox.0.revision", 0, "outbox[0].revision"),
        ("outbox.0.revision", 10**18, "outbox[0].revision"),
        ("outbox.0.queued_at", -1.0, "outbox[0].queued_at"),
        ("_metadata.upgraded_from", 2, "upgraded_from"),
        ("_metadata.upgraded_from", -1, "upgraded_from"),
        ("_metadata.updated_at", "yesterday", "updated_at"),
        ("_metadata.initialized_at", "2026-01-01T00:00:00", "initialized_at"),  # no zone
        ("_metadata.last_inbound_at", "", "last_inbound_at"),
        ("auth.token", "", "auth.token"),
        ("auth.token", "tok\r\nX-Injected: 1", "auth.token"),
    ],
)
def test_values_out_of_the_range_flowhq_writes_are_refused(
    path: str, value: object, named: str
) -> None:
    with pytest.raises(SnapshotError) as info:
        CODEC.decode(KEY, stored(**{path: value}))
    assert info.value.reason.startswith("out of range")
    assert named in info.value.reason


@pytest.mark.parametrize(
    "schema", [True, 1.0, 2.0, "2", None], ids=["true", "1.0", "2.0", "text", "null"]
)
def test_the_schema_must_be_an_integer(schema: object) -> None:
    """``true == 1`` and ``2.0 == 2`` in Python; neither is a schema flowhq wrote."""
    with pytest.raises(SnapshotError, match="unsupported schema"):
        CODEC.decode(KEY, stored(**{"_metadata.schema": schema}))


def test_a_document_too_deep_to_write_back_is_refused() -> None:
    """orjson reads 1,024 levels but writes 254: such a document could never be committed."""
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    with pytest.raises(SnapshotError, match="cannot be written back"):
        CODEC.decode(KEY, stored(dashboard={"deep": deep}))
    shallow: Any = 1
    for _ in range(200):
        shallow = {"k": shallow}
    document = CODEC.decode(KEY, stored(dashboard={"fine": shallow}))
    assert CODEC.decode(KEY, CODEC.encode(document)) == document


# -- fuzzing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_never_escape_as_another_error(raw: bytes) -> None:
    decodes_or_refuses(raw)


@FUZZ
@given(json_values)
def test_random_json_never_escapes_as_another_error(value: Any) -> None:
    decodes_or_refuses(orjson.dumps(value))
    decodes_or_refuses(orjson.dumps({"_metadata": {"schema": 2}, "x": value}))


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``data`` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            found += _paths(value, (*prefix, n))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[head] = _replaced(data[head], tuple(rest), value)
    return copy


def _added(data: Any, path: tuple[Any, ...], name: str, value: Any) -> Any:
    if not path:
        return {**data, name: value} if isinstance(data, dict) else data
    head, *rest = path
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[head] = _added(data[head], tuple(rest), name, value)
    return copy


BASE = orjson.loads(CODEC.encode(full_document()))
PATHS = _paths(BASE)
ENCRYPTING = JsonCodec(token_keys=[TokenCipher.generate_key()])
ENCRYPTED_BASE = orjson.loads(ENCRYPTING.encode(full_document()))
READERS = (ENCRYPTING, JsonCodec(), JsonCodec(opaque_tokens=True))


@FUZZ
@given(st.sampled_from(PATHS), json_values)
def test_a_document_with_one_part_replaced_decodes_or_is_refused(
    path: tuple[Any, ...], value: Any
) -> None:
    decodes_or_refuses(orjson.dumps(_replaced(BASE, path, value)))


@FUZZ
@given(st.sampled_from(PATHS), st.text(min_size=1, max_size=8), json_values)
def test_a_document_with_one_field_added_decodes_or_is_refused(
    path: tuple[Any, ...], name: str, value: Any
) -> None:
    decodes_or_refuses(orjson.dumps(_added(BASE, path, name, value)))


@FUZZ
@given(st.sampled_from(PATHS), json_values)
def test_fuzzing_with_token_keys_and_opaque_tokens(path: tuple[Any, ...], value: Any) -> None:
    raw = orjson.dumps(_replaced(ENCRYPTED_BASE, path, value))
    for codec in READERS:
        decodes_or_refuses(raw, codec)

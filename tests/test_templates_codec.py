"""Templates accept plain names only; the document codec round-trips and rejects garbage."""

from __future__ import annotations

import pytest

from flowhq import MissingValueError, SnapshotError
from flowhq.persistence.codec import JsonCodec
from flowhq.state.document import (
    Auth,
    Channel,
    ChartState,
    ConversationDocument,
    OutboxEntry,
    ValidationEntry,
)
from flowhq.statecharts.templates import Template, TemplateError, fill_json


def test_template_fills_plain_names() -> None:
    template = Template("Hi {name}, {name}! {dashboard.plan}")
    assert template.fields == ("name", "name", "dashboard.plan")
    assert template.render({"name": "Ann", "dashboard.plan": "gold"}) == "Hi Ann, Ann! gold"
    assert Template("{{literal}}").render({}) == "{literal}"


@pytest.mark.parametrize("values", [{}, {"name": None}])
def test_a_missing_value_is_an_error_never_a_hole(values: dict[str, object]) -> None:
    with pytest.raises(MissingValueError) as info:
        Template("Thanks {name}!").render(values)
    assert info.value.name == "name"


@pytest.mark.parametrize(
    "text",
    [
        "{a.b}",
        "{a[0]}",
        "{a!r}",
        "{a:>{b}}",
        "{0}",
        "{}",
        "{a",
        "{__import__}x{a.b}",
        "{dashboard.a.b}",
        "{dashboard.__class__.x}",
        "{secrets.token}",
    ],
)
def test_template_refuses_everything_else(text: str) -> None:
    with pytest.raises(TemplateError):
        Template(text)


def test_fill_json_keeps_types() -> None:
    body = {"age": "{age}", "greeting": "hi {name}", "list": ["{age}", 3]}
    assert fill_json(body, {"age": 7, "name": "Ann"}) == {
        "age": 7,
        "greeting": "hi Ann",
        "list": [7, 3],
    }


def test_codec_round_trip() -> None:
    codec = JsonCodec()
    document = ConversationDocument(
        channel=Channel("whatsapp", "+1"),
        dashboard={"a": [1, {"b": None}]},
        auth=Auth("secret"),
        chart=ChartState("f", "abc", ["x", "y"], {"h": ["y"]}),
        inbox=["m1"],
        outbox=[OutboxEntry(3, "hi", [("yes", "Yes")])],
    )
    document.validation.history.append(
        ValidationEntry("op", "c", "2026-01-01T00:00:00+00:00", False, "e")
    )
    raw = codec.encode(document)
    assert b'"_metadata"' in raw
    decoded = codec.decode("k", raw)
    assert decoded == document
    assert "secret" not in repr(decoded)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"a": 1}',
        b'{"_metadata": {"schema": 99}}',
        b'{"_metadata": {"schema": 1}, "channel": 5}',
        b"\xff\xfe",
    ],
)
def test_codec_rejects_foreign_values(raw: bytes) -> None:
    with pytest.raises(SnapshotError) as info:
        JsonCodec().decode("whatsapp:+1", raw)
    assert info.value.key == "whatsapp:+1"

"""``flowhq chat --redis`` keeps the conversation; ``flowhq state show|reset`` inspect it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowhq import ConversationKey, Headquarters, InboundMessage, RedisStore
from flowhq.cli import main
from flowhq.persistence import JsonCodec
from flowhq.state.document import Channel, ConversationDocument
from tests.persistence.test_redis_concurrency import Counter

ROOT = Path(__file__).resolve().parents[2]


def chat(redis_url: str, stdin: str) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowhq.cli",
            "chat",
            "examples.signup:Signup",
            "--asgi",
            "examples.demo_api:app",
            "--redis",
            redis_url,
            "--identifier",
            "ann",
        ],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_chat_with_redis_continues_across_restarts(redis_url: str) -> None:
    assert chat(redis_url, "Ann\n") == [
        "bot> What's your name?",
        "you> Ann",
        "bot> Thanks Ann! Your email?",
    ]
    assert chat(redis_url, "ann@example.com\nyes\n") == [
        "(continuing the stored conversation)",
        "bot> Thanks Ann! Your email?",  # the pending question, shown again
        "you> ann@example.com",
        "bot> Create an account for Ann <ann@example.com>?",
        "1. yes",
        "2. no",
        "you> yes",
        "bot> Welcome aboard, Ann!",
        "(conversation finished)",
    ]
    assert chat(redis_url, "")[0] == "bot> What's your name?"  # finished: a new one starts


async def stored_conversation(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Counter], store=store)
    await hq.initialize("whatsapp", "+15550001", auth_token="sekret-token", dashboard={"a": 1})
    await hq.handle(InboundMessage("whatsapp", "+15550001", "m1", "hi"))
    await store.close()


async def test_state_show_redacts_the_token(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await stored_conversation(redis_url)
    code = await _run(["state", "show", "whatsapp:+15550001", "--redis", redis_url])
    assert code == 0
    out = capsys.readouterr().out
    assert "sekret" not in out
    shown = json.loads(out)
    assert shown["key"] == "flowhq:{whatsapp:+15550001}"
    assert shown["revision"] == 2
    assert shown["document"]["auth"]["token"] == "***"
    assert shown["document"]["dashboard"] == {"a": 1}
    assert await _run(["state", "show", "whatsapp:+nobody", "--redis", redis_url]) == 1


async def test_state_reset_asks_first(
    redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await stored_conversation(redis_url)
    args = ["state", "reset", "whatsapp:+15550001", "--redis", redis_url]
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert await _run(args) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert await _run(args) == 0
    assert "deleted whatsapp:+15550001" in capsys.readouterr().out
    await stored_conversation(redis_url)
    assert await _run([*args, "--yes"]) == 0
    store = RedisStore.from_url(redis_url)
    assert (await store.load(ConversationKey("whatsapp", "+15550001"))).document is None
    await store.close()
    assert await _run(["state", "show", "not-a-key", "--redis", redis_url]) == 2


async def _run(args: list[str]) -> int:
    """`main` runs its own event loop; call it from a worker thread of this test's loop."""
    import asyncio

    return await asyncio.to_thread(main, args)


def corrupt(redis_url: str, doc: bytes, identifier: str = "+15550009") -> str:
    import redis

    key = f"flowhq:{{whatsapp:{identifier}}}"
    with redis.Redis.from_url(redis_url) as admin:
        admin.delete(key)
        admin.hset(key, mapping={"doc": doc, "rev": 3})
    return f"whatsapp:{identifier}"


async def test_state_reset_deletes_a_conversation_it_cannot_read(
    redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = corrupt(redis_url, b'{"_metadata": {"schema": 2}, "channel": 5}')
    assert await _run(["state", "show", conversation, "--redis", redis_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowhq: conversation whatsapp:+15550009: unreadable stored document")
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert await _run(["state", "reset", conversation, "--redis", redis_url]) == 0
    out = capsys.readouterr().out
    assert "it cannot be read" in out
    assert "deleted whatsapp:+15550009" in out


def test_deeply_nested_document_is_one_line_from_the_cli(redis_url: str) -> None:
    conversation = corrupt(redis_url, b"[" * 100_000 + b"]" * 100_000)
    result = subprocess.run(
        [sys.executable, "-m", "flowhq.cli", "state", "show", conversation, "--redis", redis_url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "not JSON" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_state_show_into_head_ends_quietly(redis_url: str) -> None:
    import asyncio

    async def big() -> None:  # more than a pipe holds, so the writer meets a closed pipe
        store = RedisStore.from_url(redis_url)
        hq = Headquarters(flows=[Counter], store=store)
        lines = {f"k{n}": "x" * 100 for n in range(5000)}
        await hq.initialize("whatsapp", "+15550008", dashboard=lines)
        await store.close()

    asyncio.run(big())
    command = (
        f"{sys.executable} -m flowhq.cli state show whatsapp:+15550008 --redis {redis_url}"
        " | head -n 1"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.stdout == "{\n"
    assert result.stderr == ""
    assert result.returncode == 0


def valid_document(identifier: str = "+15550009") -> dict[str, object]:
    document = ConversationDocument(channel=Channel("whatsapp", identifier))
    data: dict[str, object] = json.loads(JsonCodec().encode(document))
    return data


POISON: dict[str, dict[str, bytes]] = {
    "unknown-field": {"doc": json.dumps({**valid_document(), "evil": 1}).encode(), "rev": b"3"},
    "negative-revision": {"doc": json.dumps(valid_document()).encode(), "rev": b"-5"},
    "null": {"doc": b"null", "rev": b"3"},
    "bad-mark": {"doc": json.dumps(valid_document()).encode(), "rev": b"3", "dlp:2": b"-1"},
    "unknown-hash-field": {"doc": json.dumps(valid_document()).encode(), "rev": b"3", "x": b""},
}


@pytest.mark.parametrize("poison", sorted(POISON))
async def test_state_show_explains_and_reset_deletes_whatever_is_stored(
    redis_url: str, capsys: pytest.CaptureFixture[str], poison: str
) -> None:
    import redis

    key = "flowhq:{whatsapp:+15550009}"
    with redis.Redis.from_url(redis_url) as admin:
        admin.hset(key, mapping=POISON[poison])  # type: ignore[arg-type]
    conversation = "whatsapp:+15550009"
    assert await _run(["state", "show", conversation, "--redis", redis_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"flowhq: conversation {conversation}: unreadable stored document")
    assert err.strip().endswith(f"`flowhq state reset {conversation}` deletes it")
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert await _run(["state", "reset", conversation, "--redis", redis_url, "--yes"]) == 0
    assert f"deleted {conversation}" in capsys.readouterr().out
    with redis.Redis.from_url(redis_url) as admin:
        assert not admin.exists(key)


async def test_state_show_finds_a_conversation_by_the_pseudonym_logs_show(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from flowhq.observability import hashed

    await stored_conversation(redis_url)
    pseudonym = f"whatsapp:#{hashed(ConversationKey('whatsapp', '+15550001'))}"
    assert await _run(["state", "show", pseudonym, "--redis", redis_url]) == 0
    assert json.loads(capsys.readouterr().out)["key"] == "flowhq:{whatsapp:+15550001}"
    assert await _run(["state", "show", "whatsapp:#0000000000000000", "--redis", redis_url]) == 2
    assert "no stored conversation is whatsapp:#0000000000000000" in capsys.readouterr().err

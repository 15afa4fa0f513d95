"""The defects of the fault probe (issue 9), each reproduced on a real redis-server.

Stored state is decoded strictly and never overwritten; bad input is refused before any
I/O; no conversation goes silent; values JSON cannot hold fail inside their component.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import Sequence

import httpx
import pytest
import redis

from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    Action,
    ApiOptions,
    Choice,
    ConversationKey,
    DeliveryOptions,
    Flow,
    Headquarters,
    InboundMessage,
    InputError,
    MemoryStore,
    Message,
    Prompt,
    RecordingMessenger,
    RedisStore,
    SnapshotError,
    StateManager,
)
from flowhq.errors import DeliveryError
from flowhq.messaging.types import OutboundMessage
from flowhq.observability import hashed
from flowhq.persistence.codec import JsonCodec
from flowhq.persistence.store import Loaded
from flowhq.state.document import Channel, ConversationDocument, OutboxEntry
from flowhq.testing import no_api
from tests.flows import Age
from tests.support import served

KEY = ConversationKey("whatsapp", "+15550001")
REDIS_KEY = "flowhq:{whatsapp:+15550001}"


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def texts(outcome: object) -> list[str]:
    return [reply.text for reply in outcome.replies]  # type: ignore[attr-defined]


async def stored_signup(url: str) -> dict[str, object]:
    """A signup conversation at the email question, as JSON data."""
    store = RedisStore.from_url(url)
    hq = Headquarters(flows=[Signup], store=store, api=no_api(), messenger=RecordingMessenger())
    await hq.handle(msg("m1"))
    await hq.handle(msg("m2", "Ann"))
    await store.close()
    with redis.Redis.from_url(url) as admin:
        return json.loads(admin.hget(REDIS_KEY, "doc"))  # type: ignore[arg-type]


def put(url: str, data: object) -> bytes:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with redis.Redis.from_url(url) as admin:
        admin.hset(REDIS_KEY, "doc", raw)
    return raw


def stored(url: str) -> bytes:
    with redis.Redis.from_url(url) as admin:
        return admin.hget(REDIS_KEY, "doc")  # type: ignore[return-value]


# -- stored state is decoded strictly ------------------------------------------------------


def _null_reply(data: dict[str, object]) -> None:
    data["outbox"] = [{"revision": 2, "text": None, "buttons": [], "queued_at": 0.0}]


CORRUPTIONS = {
    "null reply text": _null_reply,
    "string inbox": lambda data: data.__setitem__("inbox", "m1m2"),
    "object outbox": lambda data: data.__setitem__("outbox", {}),
    "string configuration": lambda data: data["chart"].__setitem__("configuration", "email"),  # type: ignore[index]
    "number as text": lambda data: data["current"].__setitem__("component", 7),  # type: ignore[index]
    "true as revision": lambda data: _null_reply(data) or data["outbox"][0].update(revision=True),  # type: ignore[index]
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=list(CORRUPTIONS))
async def test_wrong_types_are_refused_and_left_untouched(redis_url: str, corrupt: object) -> None:
    data = await stored_signup(redis_url)
    corrupt(data)  # type: ignore[operator]
    raw = put(redis_url, data)
    store = RedisStore.from_url(redis_url)
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Signup], store=store, api=no_api(), messenger=messenger)
    with pytest.raises(SnapshotError) as info:
        await hq.handle(msg("m3", "ann@example.com"))
    assert "malformed document" in info.value.reason
    assert messenger.sent == []  # no "None" reply went out
    assert stored(redis_url) == raw  # never overwritten
    await store.close()


async def test_a_document_naming_another_user_is_refused(redis_url: str) -> None:
    data = await stored_signup(redis_url)
    data["channel"] = {"type": "whatsapp", "identifier": "+15550002"}
    put(redis_url, data)
    store = RedisStore.from_url(redis_url)
    with pytest.raises(SnapshotError, match="belongs to another conversation"):
        await store.load(KEY)
    await store.close()


async def test_deep_nesting_is_a_snapshot_error(redis_url: str) -> None:
    await stored_signup(redis_url)
    put(redis_url, b'{"_metadata": {"schema": 2}, "dashboard": ' + b"[" * 100_000)
    store = RedisStore.from_url(redis_url)
    with pytest.raises(SnapshotError, match="not JSON"):
        await store.load(KEY)
    await store.close()


async def test_redeliver_skips_what_it_cannot_read(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(RecordingMessenger):
        fail = True

        async def send(self, key: ConversationKey, messages: object) -> None:
            if self.fail:
                raise ConnectionError("channel down")
            await super().send(key, messages)  # type: ignore[arg-type]

    store = RedisStore.from_url(redis_url)
    messenger = Failing()
    hq = Headquarters(flows=[Age], store=store, messenger=messenger)
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    for n in range(4):
        await hq.handle(InboundMessage("whatsapp", f"+1555000{n}", f"m{n}", "hi"))
    with redis.Redis.from_url(redis_url) as admin:  # two keys nobody can read
        admin.hset("flowhq:{whatsapp:+15550001}", "doc", b"[" * 5000)
        admin.set("flowhq:{whatsapp:+15550002}", "a string, not a hash")
    messenger.fail = False
    caplog.set_level(logging.ERROR, logger="flowhq")
    assert await hq.redeliver(older_than=0) == 2  # the two readable ones, past the others
    assert sorted(k.identifier for k, _ in messenger.sent) == ["+15550000", "+15550003"]
    # The key is pseudonymised at ERROR (docs/operations.md: finding the conversation).
    unreadable = hashed(ConversationKey("whatsapp", "+15550001"))
    assert f"redeliver: skipping whatsapp:#{unreadable}" in caplog.text
    assert "+15550001" not in caplog.text
    await store.close()


async def test_revisions_past_2_to_the_53_stay_exact(redis_url: str) -> None:
    await stored_signup(redis_url)
    big = 2**53 + 1  # a Lua double would round it to 2**53
    with redis.Redis.from_url(redis_url) as admin:
        admin.hset(REDIS_KEY, "rev", str(big))
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Signup], store=store, api=no_api())
    outcome = await hq.handle(msg("m3", "ann@example.com"))
    assert outcome.revision == big + 1
    with redis.Redis.from_url(redis_url) as admin:
        assert admin.hget(REDIS_KEY, "rev") == str(big + 1).encode()
    await store.close()


# -- bad input is refused up front, as a flowhq error ---------------------------------------


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


# -- values JSON cannot hold fail inside their component --------------------------------------

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


# -- no conversation goes silent ----------------------------------------------------------


class PromptThen(Flow):
    """Version 1: asks for a name at `greet`."""

    name = "greeter"
    greet = Prompt("Your name?", initial=True)
    bye = Message("Bye {greet}.", final=True)
    valid = greet.to(bye)


class MessageNow(Flow):
    """Version 2, deployed later: `greet` became a Message under the same id."""

    name = "greeter"
    greet = Message("Hello there!", initial=True)
    ask = Prompt("What brings you here?")
    bye = Message("Bye.", final=True)
    done = greet.to(ask)
    valid = ask.to(bye)


async def test_a_prompt_turned_message_runs_instead_of_swallowing(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore.from_url(redis_url)
    await Headquarters(flows=[PromptThen], store=store).handle(msg("m1"))
    caplog.set_level(logging.WARNING, logger="flowhq")
    hq = Headquarters(flows=[MessageNow], store=store)
    outcome = await hq.handle(msg("m2", "Ann"))
    assert texts(outcome) == ["Hello there!", "What brings you here?"]
    assert caplog.text.count("waits for no input") == 1
    caplog.clear()
    outcome = await hq.handle(msg("m3", "curiosity"))
    assert texts(outcome) == ["Bye."]
    assert "WARNING" not in caplog.text  # once per conversation
    await store.close()


@pytest.mark.parametrize("configuration", [[], ["nowhere"], ["greet", "bye"]])
async def test_an_empty_or_impossible_position_restarts_with_a_message(
    redis_url: str, configuration: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore.from_url(redis_url)
    await Headquarters(flows=[PromptThen], store=store).handle(msg("m1"))
    with redis.Redis.from_url(redis_url) as admin:
        data = json.loads(admin.hget(REDIS_KEY, "doc"))  # type: ignore[arg-type]
        data["chart"]["configuration"] = configuration
        admin.hset(REDIS_KEY, "doc", json.dumps(data))
    caplog.set_level(logging.WARNING, logger="flowhq")
    hq = Headquarters(flows=[PromptThen], store=store)
    outcome = await hq.handle(msg("m2", "Ann"))
    assert texts(outcome) == [PromptThen.restart_text, "Your name?"]
    assert "restarting flow greeter" in caplog.text
    await store.close()


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


async def test_an_api_client_is_required_for_api_calls() -> None:
    from flowhq import FlowDefinitionError

    with pytest.raises(FlowDefinitionError, match=r"Signup\.create need an API client"):
        Headquarters(flows=[Signup], store=MemoryStore())
    Headquarters(flows=[Signup], store=MemoryStore(), api=httpx.AsyncClient())


async def test_concurrent_handles_of_one_message_process_it_once() -> None:
    hq = Headquarters(flows=[Age], store=MemoryStore())
    await hq.handle(msg("m1"))
    outcomes = await asyncio.gather(*(hq.handle(msg("m2", "30")) for _ in range(5)))
    assert sum(not o.duplicate for o in outcomes) == 1


# -- replies are never stranded ---------------------------------------------------------


class Gate:
    """A messenger whose sends wait until the test opens the gate (or fail, or hang)."""

    def __init__(self) -> None:
        self.sent: list[tuple[ConversationKey, str]] = []
        self.hang = False

    async def send(self, key: ConversationKey, messages: object) -> None:
        if self.hang:
            await asyncio.Event().wait()  # until cancelled
        self.sent.extend((key, m.text) for m in messages)  # type: ignore[attr-defined]


async def test_a_retried_webhook_delivers_the_replies_a_crash_left(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    crashed = Gate()
    crashed.hang = True
    first = Headquarters(flows=[Age], store=store, messenger=crashed)
    task = asyncio.create_task(first.handle(msg("m1")))
    await asyncio.sleep(0.2)  # committed, stuck in the send: the process "dies" now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await store.load(KEY)).revision == 1
    messenger = Gate()
    second = Headquarters(
        flows=[Age],
        store=store,
        messenger=messenger,
        delivery=DeliveryOptions(duplicate_grace=0.1),
    )
    outcome = await second.handle(msg("m1"))  # Meta retries the webhook elsewhere
    assert outcome.duplicate
    assert outcome.delivered is True
    assert [text for _, text in messenger.sent] == ["How old are you?"]
    assert await second.redeliver(older_than=0) == 0  # marked delivered
    await store.close()


async def test_a_cancelled_send_goes_out_first_next_time(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    messenger = Gate()
    hq = Headquarters(flows=[Age], store=store, messenger=messenger)
    messenger.hang = True
    task = asyncio.create_task(hq.handle(msg("m1")))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    messenger.hang = False
    await hq.handle(msg("m2", "30"))
    assert [text for _, text in messenger.sent] == ["How old are you?", "Welcome, grown-up."]
    await store.close()


async def test_memory_store_drops_expired_conversations_without_a_scan() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Age], store=store, ttl=1)
    for n in range(20):
        await hq.handle(InboundMessage("whatsapp", f"+1{n}", "m1", "hi"))
    assert len(store._entries) == 20
    await asyncio.sleep(2.1)
    await store.load(KEY)  # any access sweeps (at most once a second)
    assert len(store._entries) == 0


async def test_failed_sends_are_forgotten_once_delivered_and_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flowhq.runtime import delivery as _delivery

    caplog.set_level(logging.CRITICAL, logger="flowhq")

    class Flaky(RecordingMessenger):
        fail = True

        async def send(self, key: ConversationKey, messages: object) -> None:
            if self.fail:
                raise ConnectionError("down")
            await super().send(key, messages)  # type: ignore[arg-type]

    messenger = Flaky()
    hq = Headquarters(flows=[Age], store=MemoryStore(), messenger=messenger)
    delivery = hq._delivery
    assert delivery is not None
    for n in range(30):
        await hq.handle(InboundMessage("whatsapp", f"+1{n}", "m1", "hi"))
    assert delivery.remembered == 30
    messenger.fail = False
    assert await hq.redeliver(older_than=None) == 30  # failed here: sent at once
    assert delivery.remembered == 0
    limit = _delivery.FAILED_LIMIT
    for n in range(limit + 10):
        delivery._remember(ConversationKey("x", str(n)), {1})
    assert delivery.remembered == limit


# -- slow and failing APIs ------------------------------------------------------------------


class Flaky:
    """An ASGI API answering from a script: ("sleep", s), ("status", code), per request."""

    def __init__(self, script: list[tuple[str, float]]) -> None:
        self.script = list(script)
        self.keys: list[str] = []

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        headers = dict(scope["headers"])
        self.keys.append(headers.get(b"idempotency-key", b"").decode())
        kind, value = self.script.pop(0) if self.script else ("status", 200)
        if kind == "sleep":
            await asyncio.sleep(value)
        status = int(value) if kind == "status" else 200
        body = json.dumps({"ok": status < 400}).encode()
        await send({"type": "http.response.start", "status": status, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


class Call(Flow):
    from flowhq import ApiCall

    ask = Prompt("Go?", initial=True)
    call = ApiCall("POST", "/do", results=("success", "error", "timeout"), timeout=0.2)
    done_msg = Message("Done.", final=True)
    failed = Message("Failed.", final=True)
    late = Message("Too slow.", final=True)
    valid = ask.to(call)
    success = call.to(done_msg)
    error = call.to(failed)
    timeout = call.to(late)


async def run_call(script: list[tuple[str, float]], **options: object) -> tuple[list[str], Flaky]:
    """Run the Call flow against a real loopback server answering from ``script``."""
    app = Flaky(script)
    with served(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as api:
            hq = Headquarters(
                flows=[Call], store=MemoryStore(), api=ApiOptions(api, backoff=0.01, **options)
            )  # type: ignore[arg-type]
            await hq.handle(msg("m1"))
            outcome = await hq.handle(msg("m2", "go"))
    return texts(outcome), app


async def test_a_late_answer_is_retried_with_the_same_idempotency_key() -> None:
    replies, app = await run_call([("sleep", 0.5), ("status", 200)])
    assert replies == ["Done."]
    assert len(app.keys) == 2
    assert app.keys[0] == app.keys[1]


async def test_5xx_is_retried_within_the_bound_4xx_is_not() -> None:
    replies, app = await run_call([("status", 503), ("status", 502), ("status", 200)])
    assert replies == ["Done."]
    assert len(app.keys) == 3
    replies, app = await run_call([("status", 500)] * 5, retries=2)
    assert replies == ["Failed."]
    assert len(app.keys) == 3
    replies, app = await run_call([("status", 404), ("status", 200)])
    assert replies == ["Failed."]
    assert len(app.keys) == 1


async def test_a_final_timeout_is_the_timeout_result() -> None:
    replies, app = await run_call([("sleep", 1.0)] * 3, retries=1)
    assert replies == ["Too slow."]
    assert len(app.keys) == 2


# -- secrets ------------------------------------------------------------------------------


async def test_a_token_is_normalised_and_a_bad_one_refused_without_showing_it() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Age], store=store)
    await hq.initialize("whatsapp", "+15550001", auth_token=" tok-123\n")
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.auth.token == "tok-123"
    for bad in ("tok\n123", "tok\x00", "\u200btok", "   "):
        with pytest.raises(InputError) as info:
            await hq.initialize("whatsapp", "+15550001", auth_token=bad)
        assert bad.strip() not in str(info.value) or not bad.strip()


TOKEN = "tök-s3cret-v4lue"  # not ASCII: the HTTP layer refuses it in a header


async def test_a_token_that_breaks_the_http_layer_never_shows(
    redis_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    store = RedisStore.from_url(redis_url)
    app = Flaky([])
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    hq = Headquarters(flows=[Call], store=store, api=api)
    await hq.initialize("whatsapp", "+15550001", auth_token=TOKEN)
    await hq.handle(msg("m1"))
    outcome = await hq.handle(msg("m2", "go"))
    assert texts(outcome) == ["Failed."]  # the request could not be made
    loaded = await store.load(KEY)
    assert loaded.document is not None
    history = [e.error or "" for e in loaded.document.validation.history]
    assert any("UnicodeEncodeError" in e or "error" in e for e in history), history
    from flowhq.cli import main

    assert await asyncio.to_thread(main, ["state", "show", str(KEY), "--redis", redis_url]) == 0
    shown = capsys.readouterr().out
    for text in (caplog.text, "".join(history), shown, repr(loaded.document), repr(hq)):
        assert TOKEN not in text
        assert "s3cret" not in text
    await store.close()


async def test_tokens_are_encrypted_at_rest_and_keys_rotate(redis_url: str) -> None:
    from flowhq.persistence.secrets import TokenCipher

    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    store = RedisStore.from_url(redis_url, token_keys=[old])
    hq = Headquarters(flows=[Age], store=store)
    await hq.initialize("whatsapp", "+15550001", auth_token="tok-plain-123")
    assert b"tok-plain-123" not in stored(redis_url)
    with redis.Redis.from_url(redis_url) as admin:
        aof = b"".join(path.read_bytes() for path in _aof_files(admin))
    assert b"tok-plain-123" not in aof
    await store.close()

    rotated = RedisStore.from_url(redis_url, token_keys=[new, old])
    loaded = await rotated.load(KEY)
    assert loaded.document is not None
    assert loaded.document.auth.token == "tok-plain-123"
    await Headquarters(flows=[Age], store=rotated).handle(msg("m1"))  # re-encrypts with `new`
    await rotated.close()
    only_new = RedisStore.from_url(redis_url, token_keys=[new])
    assert (await only_new.load(KEY)).document.auth.token == "tok-plain-123"  # type: ignore[union-attr]
    await only_new.close()
    without = RedisStore.from_url(redis_url)
    with pytest.raises(SnapshotError, match="encrypted"):
        await without.load(KEY)
    await without.close()


def _aof_files(admin: redis.Redis) -> list:  # type: ignore[type-arg]
    from pathlib import Path

    directory = Path(admin.config_get("dir")["dir"])
    return [p for p in directory.rglob("*") if p.is_file() and "aof" in p.name]


# -- delivery bookkeeping and the per-process cache -----------------------------------------


class TwoThenBye(Flow):
    """Two replies in the first step (a message and a question), one after the answer."""

    name = "two_then_bye"
    one = Message("one", initial=True)
    two = Prompt("two?")
    bye = Message("bye", final=True)
    done = one.to(two)
    valid = two.to(bye)


class Sends(RecordingMessenger):
    """Records what it sends; ``sent_then_fail`` makes the next batch stop after n messages;
    ``gate`` (when set) holds every send until it opens, ``waiting`` says one is held."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_then_fail: int | None = None
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        if self.sent_then_fail is not None:
            count, self.sent_then_fail = self.sent_then_fail, None
            await super().send(key, messages[:count])
            raise DeliveryError("throttled", sent=count)
        await super().send(key, messages)


async def test_a_partly_delivered_commit_does_not_send_its_first_replies_again(
    redis_url: str,
) -> None:
    store = RedisStore.from_url(redis_url)
    messenger = Sends()
    hq = Headquarters(flows=[TwoThenBye], store=store, messenger=messenger)
    messenger.sent_then_fail = 1
    await hq.handle(msg("m1"))
    assert messenger.texts() == ["one"]  # "two?" stays in the outbox
    await hq.handle(msg("m2", "an answer"))
    assert messenger.texts() == ["one", "two?", "bye"]
    await store.close()


async def test_replies_another_process_marked_are_not_sent_again_from_the_cache(
    redis_url: str,
) -> None:
    """B commits and is still sending when A commits after it; B then marks its replies.
    A's cached copy must not make A send B's replies once they count as overdue."""
    store_a, store_b = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    sends_a, sends_b = Sends(), Sends()
    a, b = (
        Headquarters(
            flows=[Signup],
            store=store,
            messenger=sends,
            api=no_api(),
            delivery=DeliveryOptions(redelivery_after=0.3),
        )
        for store, sends in ((store_a, sends_a), (store_b, sends_b))
    )
    await a.handle(msg("m1"))  # "What's your name?"
    sends_b.gate = asyncio.Event()
    b_step = asyncio.create_task(b.handle(msg("m2", "Ann")))  # committed, then held at send
    await asyncio.wait_for(sends_b.waiting.wait(), timeout=10)
    await a.handle(msg("m3", "ann@example.com"))  # A commits revision 3 and caches it
    sends_b.gate.set()
    await b_step  # B sends "Thanks Ann! Your email?" and marks revision 2 delivered
    await asyncio.sleep(0.4)  # revision 2 is now older than redelivery_after
    await a.handle(msg("m4", "no"))
    everything = sends_a.texts() + sends_b.texts()
    assert everything.count("Thanks Ann! Your email?") == 1
    await store_a.close()
    await store_b.close()


async def test_a_duplicate_whose_replies_went_out_is_answered_without_another_load(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore.from_url(redis_url)
    hq = Headquarters(
        flows=[Signup], store=store, messenger=RecordingMessenger(), api=no_api(), cache=False
    )
    await hq.handle(msg("m1"))
    loads = 0
    load = store.load

    async def counting(key: ConversationKey) -> Loaded:
        nonlocal loads
        loads += 1
        return await load(key)

    monkeypatch.setattr(store, "load", counting)
    outcome = await hq.handle(msg("m1"))  # Meta retries a webhook that was answered
    assert outcome.duplicate
    assert outcome.delivered
    assert loads == 1
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

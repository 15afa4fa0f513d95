"""The message cycle (docs/architecture.md) on MemoryStore: dedup, commit-then-send, conflicts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx
import pytest

from examples.signup import Signup
from flowhq import (
    ApiOptions,
    ConflictError,
    ConversationKey,
    DeliveryOptions,
    Flow,
    Headquarters,
    InboundMessage,
    InputError,
    Limits,
    MemoryStore,
    Message,
    OutboundMessage,
    Prompt,
    RecordingMessenger,
)
from flowhq.persistence.store import CommitResult
from flowhq.state.document import ConversationDocument
from flowhq.testing import no_api
from tests.flows import Age, Fragile, Nested

KEY = ConversationKey("whatsapp", "+15550001")
API = no_api()  # Signup's ApiCall is never reached


def msg(message_id: str, text: str | None = None, **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def texts(outcome: object) -> list[str]:
    return [reply.text for reply in outcome.replies]  # type: ignore[attr-defined]


async def test_first_message_starts_the_flow_and_is_not_an_answer() -> None:
    hq = Headquarters(flows=[Signup], api=API, store=MemoryStore())
    outcome = await hq.handle(msg("m1", "Ann"))
    assert texts(outcome) == ["What's your name?"]
    assert outcome.configuration == ["first_name"]
    assert outcome.revision == 1


async def test_duplicate_message_id_changes_nothing() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Signup], api=API, store=store)
    await hq.handle(msg("m1", "hi"))
    await hq.handle(msg("m2", "Ann"))
    before = await store.load(KEY)
    again = await hq.handle(msg("m2", "Bob"))
    assert again.duplicate
    assert again.replies == []
    after = await store.load(KEY)
    assert after.revision == before.revision
    assert after.document == before.document


async def test_same_message_id_concurrently_is_processed_once() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Signup], api=API, store=store)
    await hq.handle(msg("m1", "hi"))
    outcomes = await asyncio.gather(*(hq.handle(msg("m2", "Ann")) for _ in range(10)))
    assert sum(not o.duplicate for o in outcomes) == 1
    loaded = await store.load(KEY)
    assert loaded.revision == 2
    assert loaded.document is not None
    assert loaded.document.current.values["first_name"] == "Ann"


class _CheckingMessenger:
    """Asserts, when called, that the replies' step is already committed."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.seen: list[tuple[int, str]] = []

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        loaded = await self.store.load(key)
        assert loaded.document is not None
        committed = {entry.text for entry in loaded.document.outbox}
        for message in messages:
            assert message.text in committed
            self.seen.append((loaded.revision, message.text))


async def test_replies_leave_only_after_the_commit() -> None:
    store = MemoryStore()
    messenger = _CheckingMessenger(store)
    hq = Headquarters(flows=[Signup], api=API, store=store, messenger=messenger)
    await hq.handle(msg("m1", "hi"))
    await hq.handle(msg("m2", "Ann"))
    assert messenger.seen == [(1, "What's your name?"), (2, "Thanks Ann! Your email?")]
    loaded = await store.load(KEY)
    assert loaded.delivered == {2}  # revision 1's entry left the outbox, and its mark with it
    assert loaded.document is not None
    assert [e.revision for e in loaded.document.outbox] == [2]


class _FlakyMessenger(RecordingMessenger):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("channel down")
        await super().send(key, messages)


async def test_undelivered_replies_are_resent_by_next_message_and_redeliver(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = MemoryStore()
    messenger = _FlakyMessenger(failures=1)
    hq = Headquarters(flows=[Signup], api=API, store=store, messenger=messenger)
    first = await hq.handle(msg("m1", "hi"))
    assert first.delivered is False
    assert messenger.sent == []
    second = await hq.handle(msg("m2", "Ann"))
    assert second.delivered is True
    assert messenger.texts() == ["What's your name?", "Thanks Ann! Your email?"]

    messenger.failures = 1
    await hq.handle(msg("m3", "ann@example.com"))
    assert await hq.redeliver() == 1
    assert messenger.texts()[-1] == "Create an account for Ann <ann@example.com>?"
    assert await hq.redeliver() == 0


async def test_without_messenger_nothing_is_kept_in_the_outbox() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Signup], api=API, store=store)
    await hq.handle(msg("m1", "hi"))
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.outbox == []


async def test_two_headquarters_sharing_a_store_conflict_and_retry() -> None:
    store = MemoryStore()
    messengers = [RecordingMessenger(), RecordingMessenger()]
    hqs = [Headquarters(flows=[Age], store=store, messenger=m) for m in messengers]
    await hqs[0].handle(msg("m0", "hi"))

    class Slow:
        """Delays loads so the two instances interleave and really conflict."""

        def __init__(self, inner: MemoryStore) -> None:
            self.inner = inner
            self.conflicts = 0

        async def load(self, key: ConversationKey):  # type: ignore[no-untyped-def]
            loaded = await self.inner.load(key)
            await asyncio.sleep(0)
            return loaded

        async def commit(self, key, document, *, expected, ttl=None, forget=(), **extra):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)
            result: CommitResult = await self.inner.commit(
                key, document, expected=expected, ttl=ttl, forget=forget, **extra
            )
            self.conflicts += not result.ok
            return result

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    slow = Slow(store)
    hqs = [
        Headquarters(flows=[Age], store=slow, messenger=m)  # type: ignore[arg-type]
        for m in messengers
    ]
    answers = [msg(f"a{i}", "abc") for i in range(6)]
    await asyncio.gather(*(hqs[i % 2].handle(m) for i, m in enumerate(answers)))
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert slow.conflicts > 0
    assert len([m for m in loaded.document.inbox if m.startswith("a")]) == 6
    # Two invalid answers exhaust the prompt; later answers restart the flow. Every answer
    # was counted exactly once across both instances:
    total = sum(e.operation == "ask_age" for e in loaded.document.validation.history)
    assert total == loaded.document.validation.attempts.get("ask_age", 0)
    sent = messengers[0].texts() + messengers[1].texts()
    assert len(sent) == len(set(enumerate(sent)))


async def test_conflict_error_after_bounded_attempts() -> None:
    class Hostile(MemoryStore):
        async def commit(self, key, document, *, expected, ttl=None, forget=(), **extra):  # type: ignore[no-untyped-def]
            other = ConversationDocument(channel=document.channel)  # someone else wins
            await super().commit(key, other, expected=expected, ttl=ttl)
            return await super().commit(key, document, expected=-1, ttl=ttl)

    hq = Headquarters(flows=[Signup], api=API, store=Hostile(), limits=Limits(max_attempts=3))
    with pytest.raises(ConflictError) as info:
        await hq.handle(msg("m1", "hi"))
    assert info.value.key == str(KEY)
    assert info.value.attempts == 3
    assert info.value.actual > info.value.expected


async def test_per_conversation_locks_do_not_grow() -> None:
    hq = Headquarters(flows=[Signup], api=API, store=MemoryStore())
    await asyncio.gather(
        *(hq.handle(InboundMessage("whatsapp", f"+1555{i:04}", "m1", "hi")) for i in range(50))
    )
    assert hq._conversations.locked == 0


async def test_commands_fire_where_enabled() -> None:
    hq = Headquarters(flows=[Signup], api=API, store=MemoryStore())
    await hq.handle(msg("m1", "hi"))
    outcome = await hq.handle(msg("m2", "CANCEL"))
    assert texts(outcome) == ["No problem. Bye!"]
    assert outcome.finished


async def test_guard_reads_saved_data_and_attempts_exhaust() -> None:
    hq = Headquarters(flows=[Age], store=MemoryStore())
    await hq.handle(msg("m1", "hi"))
    assert texts(await hq.handle(msg("m2", "42"))) == ["Welcome, grown-up."]
    await hq.handle(msg("m3", "again"))
    assert texts(await hq.handle(msg("m4", "12"))) == ["Ask a parent, please."]
    await hq.handle(msg("m5", "again"))
    assert texts(await hq.handle(msg("m6", "-1"))) == [
        "Please send a number of at least 0.\nHow old are you?"
    ]
    assert texts(await hq.handle(msg("m7", "old"))) == ["Let's stop here."]


async def test_validation_counts_survive_restore() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Age], store=store)
    await hq.handle(msg("m1", "hi"))
    await hq.handle(msg("m2", "x"))
    hq2 = Headquarters(flows=[Age], store=store)  # a fresh process, same store
    await hq2.handle(msg("m3", "30"))
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.validation.attempts == {"ask_age": 2}
    assert [e.success for e in loaded.document.validation.history] == [False, True]


async def test_component_error_routes_to_error_transition(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = MemoryStore()
    hq = Headquarters(flows=[Fragile], store=store)
    await hq.handle(msg("m1", "hi"))
    outcome = await hq.handle(msg("m2", "go"))
    assert texts(outcome) == ["Recovered."]
    loaded = await store.load(KEY)
    assert loaded.document is not None
    latest = loaded.document.validation.history[-1]
    assert latest.operation == "error:guarded"
    assert latest.error == "RuntimeError: boom"


async def test_unhandled_component_error_rolls_back_with_apology(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = MemoryStore()
    hq = Headquarters(flows=[Fragile], store=store)
    await hq.handle(msg("m1", "hi"))
    await hq.initialize("whatsapp", "+15550001", action={"route": "unguarded"})
    before = await store.load(KEY)
    outcome = await hq.handle(msg("m2", "go"))
    assert texts(outcome) == [hq.error_handler.apology]
    after = await store.load(KEY)
    assert after.document is not None
    assert before.document is not None
    assert after.document.chart == before.document.chart
    assert after.document.current == before.document.current
    assert "m2" in after.document.inbox
    assert after.document.validation.history[-1].operation == "error:unguarded"
    # the conversation is not stuck: the same prompt still answers
    assert (await hq.handle(msg("m3", "go"))).replies[0].text == hq.error_handler.apology


class Loop(Flow):
    """A loop a guard could leave (so the checks allow it), but whose guard never does."""

    ping = Message("ping", initial=True)
    pong = Message("pong")
    end = Message("end", final=True)
    done = ping.to(pong) | pong.to(end, cond="enough") | pong.to(ping)

    def enough(self) -> bool:
        return False


async def test_step_bound_stops_loops(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = MemoryStore()
    hq = Headquarters(flows=[Loop], store=store, limits=Limits(max_steps=20))
    outcome = await hq.handle(msg("m1", "hi"))
    assert texts(outcome) == [hq.error_handler.apology]
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert "StepLimitError" in (loaded.document.validation.history[-1].error or "")


async def test_bad_input_is_refused_before_any_io() -> None:
    class NoIO(MemoryStore):
        async def load(self, key):  # type: ignore[no-untyped-def]
            raise AssertionError("no I/O expected")

    hq = Headquarters(flows=[Signup], api=API, store=NoIO(), channels=["whatsapp"])
    too_long = await hq.handle(msg("m1", "x" * 4097))
    assert too_long.rejected
    assert "too long" in texts(too_long)[0]
    empty = await hq.handle(msg("m2", "   "))
    assert empty.rejected
    with pytest.raises(InputError):
        await hq.handle(InboundMessage("telegram", "1", "m3", "hi"))
    with pytest.raises(InputError):
        await hq.handle(InboundMessage("whatsapp", "", "m4", "hi"))
    with pytest.raises(InputError):
        await hq.handle(InboundMessage("whatsapp", "+1", "", "hi"))


async def test_non_text_to_a_prompt_reasks_without_corruption() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Signup], api=API, store=store)
    await hq.handle(msg("m1", "hi"))
    outcome = await hq.handle(msg("m2", None, kind="image"))
    assert texts(outcome) == ["Please answer with a text message.\nWhat's your name?"]
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert "first_name" not in loaded.document.current.values
    assert outcome.configuration == ["first_name"]


class SignupV2(Flow):
    """Signup after a refactor: ``ask_email`` was renamed ``ask_mail``."""

    name = "signup"
    migrations = {"email": "ask_mail"}

    first_name = Prompt("Name?", initial=True)
    ask_mail = Prompt("Mail, {first_name}?", save_as="email")
    done_msg = Message("Done.", final=True)
    valid = first_name.to(ask_mail) | ask_mail.to(done_msg)


class SignupV3(Flow):
    """A rewrite that no migration covers."""

    name = "signup"
    start = Prompt("Hello! Name?", initial=True)
    bye = Message("Bye.", final=True)
    valid = start.to(bye)


async def test_changed_flow_is_migrated_or_restarted(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    old = Headquarters(flows=[Signup], api=API, store=store)
    await old.handle(msg("m1", "hi"))
    await old.handle(msg("m2", "Ann"))  # now waiting at ask_email

    migrated = Headquarters(flows=[SignupV2], store=store)
    outcome = await migrated.handle(msg("m3", "ann@example.com"))
    assert texts(outcome) == ["Done."]

    await old.handle(msg("m4", "hi"))
    await old.handle(msg("m5", "Bob"))
    caplog.set_level(logging.WARNING, logger="flowhq")
    rewritten = Headquarters(flows=[SignupV3], store=store)
    outcome = await rewritten.handle(msg("m6", "bob@example.com"))
    assert texts(outcome) == [SignupV3.restart_text, "Hello! Name?"]  # told, then restarted
    assert "no migration maps it; restarting flow signup" in caplog.text


async def test_nested_help_history_and_parallel_display() -> None:
    hq = Headquarters(flows=[Nested], store=MemoryStore())
    await hq.handle(msg("m1", "go"))
    await hq.handle(msg("m2", "A"))
    outcome = await hq.handle(msg("m3", "help"))
    assert texts(outcome) == ["Help!", "Sure?"]
    assert outcome.configuration == ["outer", "inner", "second"]
    await hq.handle(msg("m4", "yes"))
    outcome = await hq.handle(msg("m5", "left"))
    assert texts(outcome) == ["Note A", "Note B", "End."]
    assert outcome.finished


async def test_start_begins_a_flow_without_inbound_message() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Signup, Age], api=API, store=store)
    outcome = await hq.start("whatsapp", "+15550001", flow="age")
    assert texts(outcome) == ["How old are you?"]
    outcome = await hq.handle(msg("m1", "20"))
    assert texts(outcome) == ["Welcome, grown-up."]
    with pytest.raises(InputError):
        await hq.start("whatsapp", "+15550001", flow="nope")


async def test_auth_token_is_never_in_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = MemoryStore()
    hq = Headquarters(flows=[Signup], api=API, store=store)
    await hq.initialize("whatsapp", "+15550001", auth_token="sekret-token-123")
    await hq.handle(msg("m1", "hi"))
    loaded = await store.load(KEY)
    document: ConversationDocument | None = loaded.document
    assert document is not None
    assert document.auth.token == "sekret-token-123"
    assert "sekret" not in repr(document)
    assert "sekret" not in repr(hq)
    assert "sekret" not in caplog.text


async def test_unrestorable_non_entry_flow_restarts_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    old = Headquarters(flows=[Signup, Age], api=API, store=store)
    await old.start("whatsapp", "+15550001", flow="signup")
    await old.handle(msg("m1", "Ann"))  # at ask_email
    caplog.set_level(logging.WARNING, logger="flowhq")
    new = Headquarters(flows=[Age, SignupV3], store=store)  # entry is now `age`
    outcome = await new.handle(msg("m2", "ann@example.com"))
    assert texts(outcome) == [SignupV3.restart_text, "Hello! Name?"]
    assert outcome.flow == "signup"


class Picky(Flow):
    """A guard that raises, and a result with no transition when the guard is false."""

    ask = Prompt("Word?", save_as="word", initial=True)
    end = Message("End.", final=True)
    valid = ask.to(end, cond="check")

    def check(self, data: dict[str, object]) -> bool:
        if data["word"] == "boom":
            raise ValueError("guard exploded")
        return data["word"] == "ok"


@pytest.mark.parametrize(
    ("word", "recorded"),
    [("boom", "ValueError: guard exploded"), ("nope", "FlowError: no transition for 'valid'")],
)
async def test_guard_errors_and_unmatched_results_roll_back(
    word: str, recorded: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="flowhq")
    store = MemoryStore()
    hq = Headquarters(flows=[Picky], store=store)
    await hq.handle(msg("m1", "hi"))
    outcome = await hq.handle(msg("m2", word))
    assert texts(outcome) == [hq.error_handler.apology]
    assert outcome.configuration == ["ask"]
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert "word" not in loaded.document.current.data
    assert (loaded.document.validation.history[-1].error or "").startswith(recorded)
    assert texts(await hq.handle(msg("m3", "ok"))) == ["End."]


async def test_unregistered_flow_starts_the_entry_flow(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    await Headquarters(flows=[Signup], api=API, store=store).handle(msg("m1", "hi"))
    caplog.set_level(logging.WARNING, logger="flowhq")
    outcome = await Headquarters(flows=[Age], store=store).handle(msg("m2", "Ann"))
    assert texts(outcome) == [Age.restart_text, "How old are you?"]
    assert "flow 'signup' is not registered" in caplog.text


async def test_button_payload_can_be_a_command() -> None:
    hq = Headquarters(flows=[Signup], api=API, store=MemoryStore())
    await hq.handle(msg("m1", "hi"))
    outcome = await hq.handle(msg("m2", None, payload="cancel", kind="interactive"))
    assert texts(outcome) == ["No problem. Bye!"]


async def test_finished_flow_starts_again_on_next_message() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Signup], api=API, store=store)
    await hq.handle(msg("m1", "hi"))
    await hq.handle(msg("m2", "cancel"))
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.current.path is None
    outcome = await hq.handle(msg("m3", "hello again"))
    assert texts(outcome) == ["What's your name?"]
    assert not outcome.finished


async def test_flat_keywords_of_0_1_still_work_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"max_text= -> limits=Limits\(max_text=...\)"):
        hq = Headquarters(flows=[Signup], api=API, store=MemoryStore(), max_text=5)
    assert hq.limits.max_text == 5
    outcome = await hq.handle(msg("m1", "far too long"))
    assert outcome.rejected


def test_settings_groups_refuse_nonsense() -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        Headquarters(flows=[Signup], api=API, store=MemoryStore(), max_txt=5)
    with pytest.raises(ValueError, match="max_steps"):
        Limits(max_steps=0)
    with pytest.raises(ValueError, match="retries"):
        ApiOptions(API, retries=-1)
    with pytest.raises(ValueError, match="duplicate_grace"):
        DeliveryOptions(duplicate_grace=-1)


async def test_api_options_reach_the_api_calls(demo_api: tuple[object, str]) -> None:
    async with httpx.AsyncClient(base_url=demo_api[1]) as client:
        hq = Headquarters(flows=[Signup], store=MemoryStore(), api=ApiOptions(client, retries=0))
        await hq.handle(msg("m1", "hi"))
        for i, text in enumerate(["Ann", "ann@example.com", "yes"]):
            outcome = await hq.handle(msg(f"a{i}", text))
    assert outcome.finished
    assert outcome.replies[-1].text.startswith("Welcome")


async def test_a_message_to_a_finished_flow_that_kept_its_name_is_answered() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Age], store=store)
    await hq.handle(msg("m1", "hi"))
    assert (await hq.handle(msg("m2", "30"))).finished
    loaded = await store.load(KEY)
    assert loaded.document is not None
    loaded.document.current.path = "age"  # as an older release or a hand edit left it
    await store.commit(KEY, loaded.document, expected=loaded.revision)
    outcome = await Headquarters(flows=[Age], store=store).handle(msg("m3", "hello"))
    assert [reply.text for reply in outcome.replies] == ["How old are you?"]

"""Each built-in component's behaviour, driven through Headquarters."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

import httpx
import pytest

from examples.demo_api import DemoApi
from flowhq import (
    Action,
    ApiCall,
    Choice,
    Confirm,
    Flow,
    FlowDefinitionError,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    StateManager,
)
from flowhq.errors import ValidationError
from flowhq.validators import email, integer, one_of, phone, regex
from tests.support import free_port


class Conv:
    def __init__(self, hq: Headquarters) -> None:
        self.hq = hq
        self.n = 0

    async def send(self, text: str | None = None, **kwargs: object) -> list[str]:
        self.n += 1
        outcome = await self.hq.handle(
            InboundMessage("whatsapp", "+1", f"m{self.n}", text, **kwargs)  # type: ignore[arg-type]
        )
        self.outcome = outcome
        return [reply.text for reply in outcome.replies]


@pytest.mark.parametrize(
    ("validator", "good", "cleaned", "bad"),
    [
        (email, " Ann@Example.COM ", "Ann@example.com", "ann@"),
        (phone, "+1 (555) 000-1234", "+15550001234", "5550001234"),
        (phone, "0044 20 7946 0958", "+442079460958", "+0123"),
        (integer(min=1, max=10), "7", 7, "11"),
        (integer(), "-3", -3, "3.5"),
        (regex(r"INV-\d{4}", "Bad invoice."), "INV-1234", "INV-1234", "INV-12"),
        (one_of("Red", "Blue"), "blue", "Blue", "green"),
    ],
)
def test_validators(validator: object, good: str, cleaned: object, bad: str) -> None:
    assert validator(good) == cleaned  # type: ignore[operator]
    with pytest.raises(ValidationError) as info:
        validator(bad)  # type: ignore[operator]
    assert info.value.message


class Prompts(Flow):
    ask = Prompt(
        "Email?",
        save_as="email",
        validator=email,
        max_attempts=3,
        error_text="Hmm, that is not it.",
        initial=True,
    )
    ok = Message("Got {email}.", final=True)
    gave_up = Message("Giving up.", final=True)
    valid = ask.to(ok)
    exhausted = ask.to(gave_up)


async def test_prompt_reasks_and_exhausts() -> None:
    conv = Conv(Headquarters(flows=[Prompts], store=MemoryStore()))
    await conv.send("start")
    assert await conv.send("x") == ["Hmm, that is not it.\nEmail?"]
    assert await conv.send("y") == ["Hmm, that is not it.\nEmail?"]
    assert await conv.send("z") == ["Giving up."]


async def test_prompt_attempts_restart_on_a_new_visit() -> None:
    conv = Conv(Headquarters(flows=[Prompts], store=MemoryStore()))
    await conv.send("start")
    await conv.send("x")
    await conv.send("y")
    assert await conv.send("a@b.co") == ["Got a@b.co."]


class Gate(Flow):
    ask = Confirm("Pay {dashboard.amount}?", yes="Pay now", no="Not now", initial=True)
    paid = Message("Paid.", final=True)
    kept = Message("Kept.", final=True)
    yes = ask.to(paid)
    no = ask.to(kept)


@pytest.mark.parametrize(
    ("answer", "kwargs", "reply"),
    [
        ("yes", {}, "Paid."),
        ("YEP", {}, "Paid."),
        ("pay now", {}, "Paid."),
        (None, {"payload": "yes", "kind": "interactive"}, "Paid."),
        ("n", {}, "Kept."),
        (None, {"payload": "no", "kind": "interactive"}, "Kept."),
    ],
)
async def test_confirm_accepts_buttons_and_words(
    answer: str | None, kwargs: dict[str, object], reply: str
) -> None:
    hq = Headquarters(flows=[Gate], store=MemoryStore())
    await hq.initialize("whatsapp", "+1", dashboard={"amount": "5 €"})
    conv = Conv(hq)
    await conv.send("start")
    assert conv.outcome.replies[0].buttons == (("yes", "Pay now"), ("no", "Not now"))
    assert await conv.send(answer, **kwargs) == [reply]


async def test_confirm_reasks_on_other_answers() -> None:
    hq = Headquarters(flows=[Gate], store=MemoryStore())
    await hq.initialize("whatsapp", "+1", dashboard={"amount": "5 €"})
    conv = Conv(hq)
    await conv.send("start")
    assert await conv.send("maybe") == ["Please answer Pay now or Not now.\nPay 5 €?"]
    assert conv.outcome.configuration == ["ask"]


class Pick(Flow):
    menu = Choice(
        "Colour?", options={"red": "Dark red", "blue": "Sky blue"}, save_as="colour", initial=True
    )
    chosen_red = Message("Red it is.", final=True)
    chosen_blue = Message("Blue it is ({colour}).", final=True)
    red = menu.to(chosen_red)
    blue = menu.to(chosen_blue)


@pytest.mark.parametrize("answer", ["blue", "BLUE", "sky Blue", "2", " 2 "])
async def test_choice_accepts_id_title_or_number(answer: str) -> None:
    conv = Conv(Headquarters(flows=[Pick], store=MemoryStore()))
    assert await conv.send("start") == ["Colour?"]
    assert conv.outcome.replies[0].plain_text() == "Colour?\n1. Dark red\n2. Sky blue"
    assert await conv.send(answer) == ["Blue it is (Sky blue)."]  # the title users saw


async def test_choice_reasks_on_unknown_option() -> None:
    conv = Conv(Headquarters(flows=[Pick], store=MemoryStore()))
    await conv.send("start")
    assert (await conv.send("3"))[0].startswith("Please pick one of the options.")


def remember(response: httpx.Response, state_manager: StateManager) -> str | None:
    if response.status_code == 404:
        return "missing"
    state_manager.update_dashboard({"last_status": response.json()["status"]})
    return None


class Calls(Flow):
    ask = Prompt("Order?", save_as="order", initial=True)
    fetch = ApiCall(
        "GET", "/orders/{order}", handler=remember, results=("success", "missing", "error")
    )
    found = Message("Found: {dashboard.last_status}.", final=True)
    missing_msg = Message("Missing.", final=True)
    failed = Message("Failed.", final=True)
    valid = ask.to(fetch)
    success = fetch.to(found)
    missing = fetch.to(missing_msg)
    error = fetch.to(failed)


async def test_api_call_sends_token_and_idempotency_key(
    demo_api: tuple[DemoApi, str], api_client: httpx.AsyncClient
) -> None:
    app, _ = demo_api
    hq = Headquarters(flows=[Calls], store=MemoryStore(), api=api_client)
    await hq.initialize("whatsapp", "+1", auth_token="tok-1")
    conv = Conv(hq)
    await conv.send("start")
    assert await conv.send("A200") == ["Found: processing."]
    request = app.requests[-1]
    assert request["path"] == "/orders/A200"
    assert request["headers"]["authorization"] == "Bearer tok-1"
    assert len(request["headers"]["idempotency-key"]) == 32


async def test_api_call_url_placeholders_are_encoded(
    demo_api: tuple[DemoApi, str], api_client: httpx.AsyncClient
) -> None:
    conv = Conv(Headquarters(flows=[Calls], store=MemoryStore(), api=api_client))
    await conv.send("start")
    assert await conv.send("../users") == ["Missing."]
    assert demo_api[0].requests[-1]["raw_path"] == "/orders/..%2Fusers"


async def test_api_call_http_error_is_error(api_client: httpx.AsyncClient) -> None:
    class Broken(Flow):
        call = ApiCall("GET", "/nowhere", initial=True)
        ok = Message("ok", final=True)
        bad = Message("bad", final=True)
        success = call.to(ok)
        error = call.to(bad)

    store = MemoryStore()
    conv = Conv(Headquarters(flows=[Broken], store=store, api=api_client))
    assert await conv.send("go") == ["bad"]
    from flowhq import ConversationKey

    loaded = await store.load(ConversationKey("whatsapp", "+1"))
    assert loaded.document is not None
    assert loaded.document.validation.history[-1].error == "HTTP 404"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A real TCP server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()


async def test_api_call_timeout_and_connection_error(
    silent_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flowhq")
    for base_url, reason in [
        (silent_server, "timeout: ReadTimeout"),
        (f"http://127.0.0.1:{free_port()}", "connection error: ConnectError"),
    ]:
        store = MemoryStore()
        async with httpx.AsyncClient(base_url=base_url, timeout=0.2) as client:
            conv = Conv(Headquarters(flows=[Calls], store=store, api=client))
            await conv.send("start")
            assert await conv.send("A100") == ["Failed."]
        from flowhq import ConversationKey

        loaded = await store.load(ConversationKey("whatsapp", "+1"))
        assert loaded.document is not None
        assert loaded.document.validation.history[-1].error == reason


async def slow_double(state_manager: StateManager) -> str:
    await asyncio.sleep(0)
    state_manager.save_value("doubled", int(state_manager.get_value("n")) * 2)
    return "big" if state_manager.get_value("doubled") > 10 else "small"


def shout(state_manager: StateManager) -> str:
    return "done"


class Acts(Flow):
    ask = Prompt("N?", save_as="n", validator=integer(), initial=True)
    double = Action(slow_double, results=("big", "small"), saves=("doubled",))
    loud = Action(shout)
    big_msg = Message("Big {doubled}.", final=True)
    small_msg = Message("Small {doubled}.", final=True)
    valid = ask.to(double)
    big = double.to(big_msg)
    small = double.to(loud)
    done = loud.to(small_msg)


async def test_actions_sync_and_async() -> None:
    conv = Conv(Headquarters(flows=[Acts], store=MemoryStore()))
    await conv.send("start")
    assert await conv.send("9") == ["Big 18."]
    conv2 = Conv(Headquarters(flows=[Acts], store=MemoryStore()))
    await conv2.send("start")
    assert await conv2.send("2") == ["Small 4."]


class ThreadGate:
    """Where blocking user code waits for the test, and tells the test it is waiting."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.waiting = asyncio.Event()
        self.released = threading.Event()

    def wait(self) -> bool:
        """Block the calling thread until released (5 s at most)."""
        self.loop.call_soon_threadsafe(self.waiting.set)
        released = self.released.wait(timeout=5)
        self.released.clear()
        return released

    async def release(self) -> None:
        """Release the next waiter; only possible while the event loop runs."""
        await self.waiting.wait()
        self.waiting.clear()
        self.released.set()


GATES: list[ThreadGate] = []


def wait_for_release(state_manager: StateManager) -> str:
    """Blocks as sync user code does (a ``requests`` call) until the test releases it; a
    function that ran on the event loop would stop the loop that releases it."""
    return "done" if GATES[0].wait() else "blocked"


def handler_waiting_for_release(response: httpx.Response, state_manager: StateManager) -> str:
    return "success" if GATES[0].wait() else "blocked"


class Blocking(Flow):
    ask = Prompt("Go?", initial=True)
    work = Action(wait_for_release, results=("done", "blocked"))
    fetch = ApiCall(
        "GET",
        "/orders/A200",
        handler=handler_waiting_for_release,
        results=("success", "blocked", "error"),
    )
    released = Message("Released.", final=True)
    blocked_msg = Message("The event loop was blocked.", final=True)
    valid = ask.to(work)
    done = work.to(fetch)
    success = fetch.to(released)
    blocked = work.to(blocked_msg) | fetch.to(blocked_msg)
    error = fetch.to(blocked_msg)


async def test_sync_actions_and_handlers_that_block_leave_the_event_loop_free(
    api_client: httpx.AsyncClient,
) -> None:
    gate = ThreadGate()
    GATES[:] = [gate]
    conv = Conv(Headquarters(flows=[Blocking], store=MemoryStore(), api=api_client))
    await conv.send("start")

    async def release_twice() -> None:
        await gate.release()  # the Action
        await gate.release()  # the ApiCall's handler

    releasing = asyncio.create_task(release_twice())
    replies = await conv.send("go")
    releasing.cancel()
    assert replies == ["Released."]


class Fork(Flow):
    """{email} is saved on one branch only: the other reaches a text that needs it."""

    pick = Choice("Email or phone?", options={"email": "Email", "phone": "Phone"}, initial=True)
    email = Prompt("Your email?", validator=email)
    phone = Prompt("Your phone?")
    thanks = Message("We will write to {email}.", final=True)
    valid = email.to(thanks) | phone.to(thanks)
    chosen = pick.to(email)
    phone_result = pick.to(phone, event="phone")


async def test_a_missing_value_is_an_error_logged_once_never_a_hole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conv = Conv(Headquarters(flows=[Fork], store=MemoryStore()))
    await conv.send("start")
    await conv.send("2")
    caplog.set_level(logging.ERROR, logger="flowhq")
    replies = await conv.send("+15550001234")
    assert replies == [conv.hq.error_handler.apology]  # not "We will write to ."
    assert caplog.text.count("error in state thanks") == 1
    assert "template value {email} is missing" in caplog.text


@pytest.mark.parametrize(
    ("answer", "reply"),
    [
        ("👍", "Paid."),
        ("👍🏽", "Paid."),
        ("yes please", "Paid."),
        ("Sure!", "Paid."),
        ("OK.", "Paid."),
        ("1", "Paid."),
        ("👎", "Kept."),
        ("nope", "Kept."),
        ("No thanks", "Kept."),
        ("2", "Kept."),
    ],
)
async def test_confirm_takes_emoji_and_short_phrases(answer: str, reply: str) -> None:
    hq = Headquarters(flows=[Gate], store=MemoryStore())
    await hq.initialize("whatsapp", "+1", dashboard={"amount": "5 €"})
    conv = Conv(hq)
    await conv.send("start")
    assert await conv.send(answer) == [reply]


class Ja(Flow):
    yes_words = ("ja", "jawohl", "👍")
    no_words = ("nein",)
    ask = Confirm("Weiter?", yes="Ja", no="Nein", initial=True)
    weiter = Message("Gut.", final=True)
    stopp = Message("Schade.", final=True)
    yes = ask.to(weiter)
    no = ask.to(stopp)


async def test_confirm_words_are_set_per_flow() -> None:
    for answer, reply in [("Jawohl!", "Gut."), ("nein", "Schade."), ("ja", "Gut.")]:
        conv = Conv(Headquarters(flows=[Ja], store=MemoryStore()))
        await conv.send("start")
        assert await conv.send(answer) == [reply]
    conv = Conv(Headquarters(flows=[Ja], store=MemoryStore()))
    await conv.send("start")
    assert (await conv.send("yes"))[0].startswith("Please answer Ja or Nein.")  # not English


class Si(Ja):
    """The same flow in Spanish: its states are the very objects Ja uses."""

    yes_words = ("sí", "si")
    no_words = ("no",)


async def test_a_subclass_speaking_another_language_leaves_its_base_flow_alone() -> None:
    assert Si.ask is Ja.ask  # python-statemachine shares the state between the classes
    conv = Conv(Headquarters(flows=[Si], store=MemoryStore()))
    await conv.send("start")
    assert await conv.send("sí") == ["Gut."]
    conv = Conv(Headquarters(flows=[Ja], store=MemoryStore()))
    await conv.send("start")
    assert (await conv.send("si"))[0].startswith("Please answer Ja or Nein.")
    conv = Conv(Headquarters(flows=[Ja], store=MemoryStore()))
    await conv.send("start")
    assert await conv.send("jawohl") == ["Gut."]


def test_words_taken_as_both_yes_and_no_are_reported_once_for_the_flow_that_has_them() -> None:
    with pytest.raises(FlowDefinitionError) as caught:

        class Clash(Ja):
            yes_words = ("ok", "nein")

    assert str(caught.value).count("words taken as both yes and no: ['nein']") == 1
    assert Ja.__flowhq_problems__ == []

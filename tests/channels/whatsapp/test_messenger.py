"""WhatsAppMessenger against FakeGraphApi served for real on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from flowhq import Confirm, ConversationKey, Flow, Message, OutboundMessage
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.errors import DeliveryError
from flowhq.testing.whatsapp import FakeGraphApi, ReadRequest
from tests.channels.whatsapp.fixtures import FAKE_TOKEN, PHONE_NUMBER_ID
from tests.support import free_port

TO = "4915112345678"
KEY = ConversationKey("whatsapp", TO)
Fake = tuple[FakeGraphApi, str]


def make(base_url: str, **options: Any) -> WhatsAppMessenger:
    settings: dict[str, Any] = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": FAKE_TOKEN,
        "base_url": base_url,
        "backoff": 0.01,
        "timeout": 2.0,
    }
    return WhatsAppMessenger(**(settings | options))


@pytest.fixture
async def wa(fake_graph: Fake) -> AsyncIterator[WhatsAppMessenger]:
    async with make(fake_graph[1]) as messenger:
        yield messenger


# Delivery


async def test_text_is_delivered(fake_graph: Fake, wa: WhatsAppMessenger) -> None:
    fake, _ = fake_graph
    await wa.send(KEY, [OutboundMessage("Hello there")])
    [delivery] = fake.messages(TO)
    assert delivery.wamid.startswith("wamid.")
    assert delivery.payload["type"] == "text"
    assert delivery.payload["text"] == {"preview_url": False, "body": "Hello there"}


async def test_buttons_are_delivered(fake_graph: Fake, wa: WhatsAppMessenger) -> None:
    fake, _ = fake_graph
    await wa.send(KEY, [OutboundMessage("Sure?", [("yes", "Yes"), ("no", "No")], tag="k1")])
    [delivery] = fake.messages(TO)
    interactive = delivery.payload["interactive"]
    assert interactive["type"] == "button"
    assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == ["yes~k1", "no~k1"]


async def test_list_is_delivered(fake_graph: Fake, wa: WhatsAppMessenger) -> None:
    fake, _ = fake_graph
    options = [(f"o{i}", f"Option {i}") for i in range(6)]
    await wa.send(KEY, [OutboundMessage("Pick", options, menu_label="Options")])
    [delivery] = fake.messages(TO)
    interactive = delivery.payload["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == "Options"
    assert len(interactive["action"]["sections"][0]["rows"]) == 6


async def test_split_text_and_batch_arrive_in_order(
    fake_graph: Fake,
    wa: WhatsAppMessenger,
) -> None:
    fake, _ = fake_graph
    long_text = "\n".join(f"Line {n}" for n in range(2000))  # about 19,800 characters
    await wa.send(
        KEY, [OutboundMessage("First"), OutboundMessage(long_text), OutboundMessage("Last")]
    )
    texts = fake.texts(TO)
    assert texts[0] == "First"
    assert texts[-1] == "Last"
    assert len(texts) == 7
    assert all(len(text) <= 4096 for text in texts)
    assert "\n".join(texts[1:-1]) == long_text
    assert fake.messages("someone else") == []


async def test_preview_url_option(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    async with make(base_url, preview_url=True) as messenger:
        await messenger.send(KEY, [OutboundMessage("https://example.org")])
    assert fake.messages(TO)[0].payload["text"]["preview_url"] is True


# Retries


async def test_two_server_errors_are_retried(fake_graph: Fake, wa: WhatsAppMessenger) -> None:
    fake, _ = fake_graph
    fake.fail_next(2, status=500)
    await wa.send(KEY, [OutboundMessage("Hello")])
    assert fake.attempts == 3
    assert fake.texts(TO) == ["Hello"]


@pytest.mark.parametrize("code", [130429, 131056])
async def test_throttling_codes_are_retried(
    fake_graph: Fake,
    wa: WhatsAppMessenger,
    code: int,
) -> None:
    fake, _ = fake_graph
    fake.fail_next(1, status=400, code=code)
    await wa.send(KEY, [OutboundMessage("Hello")])
    assert fake.attempts == 2
    assert fake.texts(TO) == ["Hello"]


async def test_retry_after_is_honoured(fake_graph: Fake, wa: WhatsAppMessenger) -> None:
    fake, _ = fake_graph
    fake.fail_next(1, status=429, retry_after=0.3)
    started = time.monotonic()
    await wa.send(KEY, [OutboundMessage("Hello")])
    assert time.monotonic() - started >= 0.3
    assert fake.texts(TO) == ["Hello"]


async def test_exhausted_retries_raise_a_temporary_error(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    fake.fail_next(10, status=503, after=1)
    async with make(base_url, max_retries=2) as messenger:
        with pytest.raises(DeliveryError) as caught:
            await messenger.send(KEY, [OutboundMessage("One"), OutboundMessage("Two")])
    assert caught.value.permanent is False
    assert caught.value.sent == 1
    assert caught.value.code == 131000
    assert "gave up after 3 attempts" in str(caught.value)
    assert fake.attempts == 4
    assert fake.texts(TO) == ["One"]


async def test_bad_gateway_without_json_is_retried(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    failing = _FailingTransport(fail=1, inner=httpx.AsyncHTTPTransport())
    async with httpx.AsyncClient(transport=failing) as client:
        await make(base_url, client=client).send(KEY, [OutboundMessage("Hello")])
    assert failing.calls == 2
    assert fake.texts(TO) == ["Hello"]


class _FailingTransport(httpx.AsyncBaseTransport):
    """Answers the first ``fail`` requests with a bare 502, as a proxy in front of Graph might."""

    def __init__(self, *, fail: int, inner: httpx.AsyncBaseTransport) -> None:
        self.fail = fail
        self.calls = 0
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.fail:
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_timeout_is_retried(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    fake.delay_next(0.6)
    async with make(base_url, timeout=0.2) as messenger:
        await messenger.send(KEY, [OutboundMessage("Hello")])
    assert fake.attempts == 2
    # The slow request still takes effect, as on Meta: delivery is at-least-once.
    await asyncio.sleep(0.6)
    assert fake.texts(TO) == ["Hello", "Hello"]


async def test_timeouts_give_up_after_the_retries(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    fake.delay_next(0.5, n=2)
    async with make(base_url, timeout=0.15, max_retries=1) as messenger:
        with pytest.raises(DeliveryError) as caught:
            await messenger.send(KEY, [OutboundMessage("Hello")])
    assert caught.value.permanent is False
    assert caught.value.sent == 0
    assert caught.value.code is None
    assert "timed out" in caught.value.reason
    assert fake.attempts == 2
    await asyncio.sleep(0.5)  # let the server finish the slow requests before the next test


async def test_connection_errors_are_retried_then_temporary() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with make(closed, max_retries=1) as messenger:
        with pytest.raises(DeliveryError) as caught:
            await messenger.send(KEY, [OutboundMessage("Hello")])
    assert caught.value.permanent is False
    assert "connection failed" in caught.value.reason


# Permanent refusals


async def test_outside_the_24h_window_is_permanent(
    fake_graph: Fake,
    wa: WhatsAppMessenger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, _ = fake_graph
    fake.fail_next(1, status=400, code=131047, after=2)
    batch = [OutboundMessage("One"), OutboundMessage("Two"), OutboundMessage("Three")]
    with (
        caplog.at_level(logging.WARNING, logger="flowhq.channels.whatsapp"),
        pytest.raises(DeliveryError) as caught,
    ):
        await wa.send(KEY, batch)
    assert caught.value.permanent is True
    assert caught.value.sent == 2
    assert caught.value.code == 131047
    assert fake.attempts == 3  # not retried
    assert fake.texts(TO) == ["One", "Two"]
    assert "131047" in caplog.text
    assert "more than 24 hours" in caplog.text


async def test_a_refused_recipient_is_permanent(fake_graph: Fake, wa: WhatsAppMessenger) -> None:
    fake, _ = fake_graph
    fake.fail_for(TO, code=131026)
    with pytest.raises(DeliveryError) as caught:
        await wa.send(KEY, [OutboundMessage("Hello")])
    assert (caught.value.permanent, caught.value.sent, caught.value.code) == (True, 0, 131026)
    await wa.send(ConversationKey("whatsapp", "111"), [OutboundMessage("Other")])
    assert fake.texts("111") == ["Other"]


async def test_a_partly_sent_message_does_not_count_as_sent(
    fake_graph: Fake,
    wa: WhatsAppMessenger,
) -> None:
    fake, _ = fake_graph
    fake.fail_next(1, status=400, code=131047, after=2)
    long_text = "word " * 1000  # two text messages
    with pytest.raises(DeliveryError) as caught:
        await wa.send(KEY, [OutboundMessage("One"), OutboundMessage(long_text)])
    assert caught.value.sent == 1
    assert len(fake.texts(TO)) == 2


# Acknowledging


async def test_acknowledge_marks_read_and_shows_typing(
    fake_graph: Fake,
    wa: WhatsAppMessenger,
) -> None:
    fake, _ = fake_graph
    await wa.acknowledge("wamid.inbound1")
    assert fake.reads == [ReadRequest("wamid.inbound1", typing=True)]


async def test_acknowledge_without_typing_or_read(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    async with make(base_url, typing=False) as messenger:
        await messenger.acknowledge("wamid.a")
    async with make(base_url, mark_read=False) as messenger:
        await messenger.acknowledge("wamid.b")
    assert fake.reads == [ReadRequest("wamid.a", typing=False)]
    assert fake.attempts == 1


async def test_acknowledge_swallows_errors(
    fake_graph: Fake,
    wa: WhatsAppMessenger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, _ = fake_graph
    fake.fail_next(1, status=500)
    with caplog.at_level(logging.WARNING, logger="flowhq.channels.whatsapp"):
        await wa.acknowledge("wamid.x")
        async with make(f"http://127.0.0.1:{free_port()}") as unreachable:
            await unreachable.acknowledge("wamid.y")
    assert fake.reads == []
    assert "could not mark wamid.x read" in caplog.text
    assert "could not mark wamid.y read" in caplog.text


# The access token


@pytest.mark.parametrize("token", ["", "   ", "EAAG\nsecret", "EAAG\x00secret", "EAAGsécret"])
def test_bad_tokens_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(ValueError, match="access_token") as caught:
        WhatsAppMessenger(phone_number_id="1", access_token=token)
    assert "secret" not in str(caught.value)


async def test_surrounding_whitespace_is_stripped(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    async with make(base_url, access_token=f"  {FAKE_TOKEN}\n") as messenger:
        await messenger.send(KEY, [OutboundMessage("Hello")])
    assert fake.texts(TO) == ["Hello"]


async def test_the_token_never_shows(
    fake_graph: Fake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, base_url = fake_graph
    secret = "EAAGwrongSECRET0123456789"
    caught: list[DeliveryError] = []
    with caplog.at_level(logging.DEBUG):  # every logger, httpx and httpcore included
        async with make(base_url, access_token=secret) as messenger:
            assert secret not in repr(messenger)
            assert secret not in str(messenger)
            with pytest.raises(DeliveryError) as refused:  # the fake answers 401
                await messenger.send(KEY, [OutboundMessage("Hello")])
            caught.append(refused.value)
            await messenger.acknowledge("wamid.x")
        async with make(f"http://127.0.0.1:{free_port()}", access_token=secret) as unreachable:
            with pytest.raises(DeliveryError) as unreachable_error:
                await unreachable.send(KEY, [OutboundMessage("Hello")])
            caught.append(unreachable_error.value)
    assert caught[0].permanent is False  # an expired token never costs the replies
    assert caught[0].code == 190
    for error in caught:
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in error.reason
    assert caplog.records
    assert secret not in caplog.text
    assert fake.messages() == []


# Lifecycle and checks


async def test_aclose_closes_only_its_own_client(fake_graph: Fake) -> None:
    _, base_url = fake_graph
    async with httpx.AsyncClient() as client:
        borrowed = make(base_url, client=client)
        await borrowed.send(KEY, [OutboundMessage("Hello")])
        await borrowed.aclose()
        assert not client.is_closed
    own = make(base_url)
    await own.aclose()
    with pytest.raises(RuntimeError):
        await own.send(KEY, [OutboundMessage("Hello")])


class Fits(Flow):
    ask = Confirm("Go on?", initial=True)
    done = Message("Done.", final=True)
    yes = ask.to(done)
    no = ask.to(done)


class TooLong(Flow):
    ask = Confirm("Go on?", yes="Yes, I would like that", initial=True)
    done = Message("Done.", final=True)
    yes = ask.to(done)
    no = ask.to(done)


def test_check_flows_reports_every_flow() -> None:
    messenger = WhatsAppMessenger(phone_number_id="1", access_token="t", base_url="http://x")
    problems = messenger.check_flows([Fits, TooLong])
    assert problems == [
        "TooLong.ask: button title 'Yes, I would like that' has 22 characters; WhatsApp allows 20"
    ]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="phone_number_id"):
        WhatsAppMessenger(phone_number_id=" ", access_token="t")
    with pytest.raises(ValueError, match="max_retries"):
        WhatsAppMessenger(phone_number_id="1", access_token="t", max_retries=-1)


# The fake itself refuses what WhatsApp refuses


def envelope(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
            "type": kind, kind: content}  # fmt: skip


def buttons(n: int) -> dict[str, Any]:
    replies = [{"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(n)]
    return {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": replies}}


def rows(*titles: str) -> dict[str, Any]:
    items = [{"id": f"r{i}", "title": title} for i, title in enumerate(titles)]
    return {
        "type": "list",
        "body": {"text": "Pick"},
        "action": {"button": "Choose", "sections": [{"rows": items}]},
    }


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (envelope("interactive", buttons(4)), 131009),
        (envelope("interactive", buttons(0)), 131009),
        (envelope("interactive", rows("a", "b", "c", "x" * 25)), 131009),
        (envelope("interactive", rows(*[f"r{i}" for i in range(11)])), 131009),
        (envelope("interactive", rows("same", "Same", "c", "d")), 131009),
        (envelope("text", {"body": "x" * 4097}), 131009),
        (envelope("text", {"body": ""}), 100),
        (envelope("audio", {"id": "1", "caption": "audio takes none"}), 100),
        ({"to": TO, "type": "text", "text": {"body": "hi"}}, 100),
    ],
    ids=[
        "4-buttons",
        "0-buttons",
        "25-char-row",
        "11-rows",
        "same-titles",
        "long-text",
        "empty",
        "audio-caption",
        "no-product",
    ],
)
async def test_the_fake_refuses_over_limit_payloads(
    fake_graph: Fake,
    payload: dict[str, Any],
    code: int,
) -> None:
    fake, base_url = fake_graph
    url = f"{base_url}/v25.0/{PHONE_NUMBER_ID}/messages"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            url, json=payload, headers={"Authorization": f"Bearer {FAKE_TOKEN}"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]
    assert error["error_data"]["details"]
    assert fake.messages() == []


async def test_the_fake_checks_token_and_phone_number(fake_graph: Fake) -> None:
    fake, base_url = fake_graph
    payload = envelope("text", {"body": "hi"})
    async with httpx.AsyncClient(base_url=base_url) as client:
        no_token = await client.post(f"/v25.0/{PHONE_NUMBER_ID}/messages", json=payload)
        wrong_number = await client.post(
            "/v25.0/999/messages", json=payload, headers={"Authorization": f"Bearer {FAKE_TOKEN}"}
        )
        accepted = await client.post(
            f"/v25.0/{PHONE_NUMBER_ID}/messages",
            json=payload,
            headers={"Authorization": f"Bearer {FAKE_TOKEN}"},
        )
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] == 190
    assert wrong_number.status_code == 400
    body = accepted.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": TO, "wa_id": TO}]
    assert body["messages"][0]["id"] == fake.messages(TO)[0].wamid

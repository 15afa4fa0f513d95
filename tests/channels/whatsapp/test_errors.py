"""Meta's error codes replayed with the HTTP status Meta answers them with, under uvicorn.

Each class of codes (flowhq.channels.whatsapp.codes) gets what it needs: throttling is
retried, an expired token keeps every reply until it is fixed and then sends the backlog in
order, configuration errors are retried a bounded number of times, refusals are dropped and
recorded.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from examples.signup import Signup
from flowhq import DeliveryOptions
from flowhq.testing.whatsapp import FakeGraphApi, delivery, status, text
from tests.channels.whatsapp.bot import load, post, say, serve_bot
from tests.support import wait_for

FAST = {"delivery": DeliveryOptions(redelivery_after=0.1)}


@pytest.mark.parametrize(
    ("code", "status"),
    [(130429, 400), (131048, 400), (131056, 400), (131064, 400), (80007, 400), (4, 400)],
)
async def test_throttling_is_retried_and_the_reply_arrives(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], code: int, status: int
) -> None:
    fake, graph = fake_graph
    user = f"1555124{code % 10000:04}"
    with serve_bot([Signup], redis_url, graph) as (url, _):
        fake.fail_next(1, status=status, code=code, retry_after=0.05)
        await say(url, text(user, "hi"))
        await wait_for(lambda: fake.texts(user) == ["What's your name?"])
    assert fake.attempts == 2  # one refusal, one retry (read receipts aside)


async def test_an_expired_token_keeps_every_reply_and_sends_the_backlog_in_order(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, graph = fake_graph
    ann, bob = "15551241001", "15551241002"
    alerts: list[str] = []
    messenger = {"on_alert": alerts.append, "probe_every": 0.3, "mark_read": False}
    caplog.set_level(logging.WARNING, logger="flowhq")
    with serve_bot(
        [Signup], redis_url, graph, messenger=messenger, hq=FAST, redeliver_every=0.2
    ) as (url, hq):
        fake.fail_next(1000, status=401, code=190)  # the token expired
        await say(url, text(ann, "hi"))
        await say(url, text(bob, "hi"))
        await say(url, text(ann, "Ann"))
        await wait_for(lambda: len(alerts) == 1)
        await wait_for(lambda: fake.attempts >= 3)
        assert fake.messages() == []
        assert hq.messenger.paused  # type: ignore[union-attr]
        fake.reset()  # fixed at Meta's side (a permission given back): the probe goes through
        await wait_for(lambda: len(fake.texts(ann)) == 2 and len(fake.texts(bob)) == 1)
        assert not hq.messenger.paused  # type: ignore[union-attr]
    assert fake.texts(ann) == ["What's your name?", "Thanks Ann! Your email?"]  # in order
    assert fake.texts(bob) == ["What's your name?"]
    assert len(alerts) == 1
    assert "190" in alerts[0]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # one ERROR for the whole pause
    assert (await load(redis_url, ann)).failures == {}  # nothing dropped


async def test_update_token_resumes_at_once(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551241003"
    messenger = {"probe_every": 3600.0, "access_token": "EAAG-old-token", "mark_read": False}
    with serve_bot(
        [Signup], redis_url, graph, messenger=messenger, hq=FAST, redeliver_every=0.2
    ) as (url, hq):
        await say(url, text(user, "hi"))  # the fake wants another token: 401, code 190
        await wait_for(lambda: hq.messenger.paused)  # type: ignore[union-attr]
        hq.messenger.update_token(fake.access_token)  # type: ignore[union-attr]
        await wait_for(lambda: fake.texts(user) == ["What's your name?"])


async def test_a_configuration_error_is_retried_a_bounded_number_of_times(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551241004"
    messenger = {"config_retries": 3, "max_retries": 0, "mark_read": False}
    with serve_bot(
        [Signup], redis_url, graph, messenger=messenger, hq=FAST, redeliver_every=0.1
    ) as (url, _):
        fake.fail_next(1000, status=400, code=131045)  # the number is not registered
        await say(url, text(user, "hi"))
        await recorded(redis_url, user)
        attempts = fake.attempts
    assert attempts == 3
    assert fake.messages() == []


async def test_a_permanent_refusal_is_recorded_and_dropped(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551241005"
    with serve_bot([Signup], redis_url, graph, messenger={"mark_read": False}) as (url, _):
        fake.fail_next(1, status=400, code=131026)  # the user cannot receive it
        await say(url, text(user, "hi"))
        (reason,) = (await recorded(redis_url, user)).values()
    assert fake.attempts == 1
    assert reason.startswith("131026")


async def recorded(redis_url: str, user: str) -> dict[int, str]:
    """Wait until the conversation records a delivery failure; return the records."""
    for _ in range(1000):
        failures = dict((await load(redis_url, user)).failures)
        if failures:
            return failures
        await asyncio.sleep(0.02)
    raise AssertionError("no failure recorded")


async def test_a_failed_status_is_recorded_on_the_outbox_entry_it_names(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551241006"
    with serve_bot([Signup], redis_url, graph, messenger={"mark_read": False}) as (url, _):
        await say(url, text(user, "hi"))
        await wait_for(lambda: len(fake.messages(user)) == 1)
        sent = fake.messages(user)[0]
        data = sent.payload["biz_opaque_callback_data"]  # ties Meta's statuses to the entry
        assert data == f"flowhq:{user}:1.0"
        failed = status(sent.wamid, user, "failed", code=131026, callback_data=data)
        assert (await post(url, delivery(([], [failed])))).status_code == 200
        records = await recorded(redis_url, user)
    assert list(records) == [1]
    assert records[1].startswith("131026")

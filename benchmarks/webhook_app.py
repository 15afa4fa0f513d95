"""The app the webhook benchmark runs in worker processes: ``uvicorn benchmarks.webhook_app:app``.

A one-question flow that counts answers; replies go through the real WhatsAppMessenger to a
FakeGraphApi inside the process (so the Graph API's own latency is left out); updates go
through the Redis Stream queue on ``REDIS_URL``. ``READ_RECEIPTS=0`` turns read receipts
(one more Graph API request per message) off. With ``SLOW_EVERY=n`` the counting Action is
async and every n-th one the process runs waits ``SLOW_SECONDS`` (an API call that is slow).
"""

from __future__ import annotations

import asyncio
import itertools
import os

import httpx

from flowhq import Action, Flow, Headquarters, Prompt, RedisStore, StateManager
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.inbox import RedisStreamQueue
from flowhq.testing.whatsapp import FakeGraphApi

TOKEN = "bench-token"
SECRET = "bench-secret"
NUMBER = "100000000000002"


def increment(state_manager: StateManager) -> str:
    state_manager.save_value("count", (state_manager.get_value("count") or 0) + 1)
    return "done"


SLOW_EVERY = int(os.environ.get("SLOW_EVERY", "0"))
SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "2"))
_runs = itertools.count(1)


async def increment_slowly(state_manager: StateManager) -> str:
    if next(_runs) % SLOW_EVERY == 0:
        await asyncio.sleep(SLOW_SECONDS)
    return increment(state_manager)


class Counter(Flow):
    name = "counter"
    ask = Prompt("Say something", initial=True)
    count = Action(increment_slowly if SLOW_EVERY else increment, saves=("count",))
    valid = ask.to(count)
    done = count.to(ask)


graph = FakeGraphApi(access_token=TOKEN, phone_number_id=NUMBER)
messenger = WhatsAppMessenger(
    phone_number_id=NUMBER,
    access_token=TOKEN,
    mark_read=os.environ.get("READ_RECEIPTS", "1") != "0",
    base_url="http://graph.local",
    client=httpx.AsyncClient(
        transport=httpx.ASGITransport(app=graph), base_url="http://graph.local"
    ),
)
store = RedisStore.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
hq = Headquarters(flows=[Counter], store=store, messenger=messenger)
app = webhook_app(
    hq,
    app_secret=SECRET,
    verify_token="bench",
    queue=RedisStreamQueue(store.client, shards=8, lease=2.0),
    redeliver_every=None,
)

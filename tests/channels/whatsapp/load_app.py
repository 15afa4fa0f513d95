"""A webhook app for load tests: ``uvicorn tests.channels.whatsapp.load_app:app``.

Each answer goes through an Action that appends it to the saved list ``seen`` (so a test
reads from Redis whether every message was applied once and in order). An answer ending in
``!`` makes the Action block for ``BLOCK_SECONDS`` as a sync function, the way users write
a ``requests`` call; with ``ASYNC_BLOCK=1`` it waits as an async function instead.
"""

from __future__ import annotations

import asyncio
import os
import time

from flowhq import Action, Flow, Headquarters, Prompt, RedisStore, StateManager
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.inbox import RedisStreamQueue

ENV = os.environ
BLOCK_SECONDS = float(ENV.get("BLOCK_SECONDS", "2"))


def _record(state_manager: StateManager) -> bool:
    """Append the answer to ``seen``; whether it asks to block."""
    said = str(state_manager.get_value("said"))
    state_manager.save_value("seen", [*state_manager.get_value("seen", []), said.rstrip("!")])
    return said.endswith("!")


def record(state_manager: StateManager) -> str:
    if _record(state_manager):
        time.sleep(BLOCK_SECONDS)  # a blocking call inside a sync Action
    return "done"


async def record_async(state_manager: StateManager) -> str:
    if _record(state_manager):
        await asyncio.sleep(BLOCK_SECONDS)
    return "done"


class Load(Flow):
    name = "load"
    said = Prompt("Go?", initial=True)
    record = Action(record_async if ENV.get("ASYNC_BLOCK") == "1" else record, saves=("seen",))
    valid = said.to(record)
    done = record.to(said)


store = RedisStore.from_url(ENV["REDIS_URL"])
hq = Headquarters(
    flows=[Load],
    store=store,
    messenger=WhatsAppMessenger(
        phone_number_id=ENV["WHATSAPP_PHONE_NUMBER_ID"],
        access_token=ENV["WHATSAPP_TOKEN"],
        base_url=ENV["WHATSAPP_GRAPH_URL"],
    ),
)
app = webhook_app(
    hq,
    app_secret=ENV["WHATSAPP_APP_SECRET"],
    verify_token=ENV["WHATSAPP_VERIFY_TOKEN"],
    queue=RedisStreamQueue(store.client, shards=4, lease=float(ENV.get("LEASE", "1"))),
)

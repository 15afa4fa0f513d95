"""A webhook app for multi-process tests: ``uvicorn tests.channels.whatsapp.worker_app:app``.

Its flow's Action writes a marker file and takes ``SLOW_SECONDS`` (so a test can kill the
worker in the middle of it), then counts in Redis how many times it completed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from flowhq import Action, Flow, Headquarters, Message, Prompt, RedisStore, StateManager
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.inbox import RedisStreamQueue

ENV = os.environ


async def slow(state_manager: StateManager) -> str:
    Path(ENV["MARKER_DIR"], f"started-{os.getpid()}").touch()  # noqa: ASYNC240 - a test marker
    await asyncio.sleep(float(ENV.get("SLOW_SECONDS", "0")))
    return "done"


class Slow(Flow):
    name = "slow"
    ask = Prompt("Go?", initial=True)
    work = Action(slow)
    end = Message("Done.", final=True)
    valid = ask.to(work)
    done = work.to(end)


store = RedisStore.from_url(ENV["REDIS_URL"])
queue = RedisStreamQueue(store.client, shards=2, lease=float(ENV.get("LEASE", "1")))
hq = Headquarters(
    flows=[Slow],
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
    queue=queue,
)

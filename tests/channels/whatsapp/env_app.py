"""The webhook app the multi-process tests run under uvicorn, configured from the environment."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from flowhq import Flow, Headquarters, RedisStore
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.inbox import RedisStreamQueue


def app_from_env(flow: type[Flow], *, shards: int) -> Starlette:
    """``flow`` behind a webhook app on ``$REDIS_URL`` and the fake Graph API's variables."""
    env = os.environ
    store = RedisStore.from_url(env["REDIS_URL"])
    hq = Headquarters(
        flows=[flow],
        store=store,
        messenger=WhatsAppMessenger(
            phone_number_id=env["WHATSAPP_PHONE_NUMBER_ID"],
            access_token=env["WHATSAPP_TOKEN"],
            base_url=env["WHATSAPP_GRAPH_URL"],
        ),
    )
    return webhook_app(
        hq,
        app_secret=env["WHATSAPP_APP_SECRET"],
        verify_token=env["WHATSAPP_VERIFY_TOKEN"],
        queue=RedisStreamQueue(store.client, shards=shards, lease=float(env.get("LEASE", "1"))),
    )

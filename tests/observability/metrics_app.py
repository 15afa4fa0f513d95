"""The example order bot with /metrics, for multi-process tests.

``uvicorn tests.observability.metrics_app:app --workers 2`` with ``PROMETHEUS_MULTIPROC_DIR``
set: each worker writes its counts there, and a scrape of either merges them.
"""

from __future__ import annotations

import os

import httpx

from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from flowhq import Headquarters, RedisStore
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app
from flowhq.inbox import RedisStreamQueue

ENV = os.environ

store = RedisStore.from_url(ENV["REDIS_URL"])
hq = Headquarters(
    flows=[OrderStatus],
    store=store,
    messenger=WhatsAppMessenger(
        phone_number_id=ENV["WHATSAPP_PHONE_NUMBER_ID"],
        access_token=ENV["WHATSAPP_TOKEN"],
        base_url=ENV["WHATSAPP_GRAPH_URL"],
        max_retries=0,
    ),
    api=httpx.AsyncClient(transport=httpx.ASGITransport(app=DemoApi()), base_url="http://api"),
)
app = webhook_app(
    hq,
    app_secret=ENV["WHATSAPP_APP_SECRET"],
    verify_token=ENV["WHATSAPP_VERIFY_TOKEN"],
    queue=RedisStreamQueue(store.client, keys=store.keys, shards=2, lease=1),
    redeliver_every=0.5,
    metrics=True,
    metrics_token=ENV["METRICS_TOKEN"],
)

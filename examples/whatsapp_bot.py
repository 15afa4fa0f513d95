"""The example flows as a WhatsApp bot: ``uvicorn examples.whatsapp_bot:app``.

Configuration comes from the environment:

- ``WHATSAPP_TOKEN``: a system-user access token of your Meta app;
- ``WHATSAPP_APP_SECRET``: the app secret (it signs webhook deliveries);
- ``WHATSAPP_VERIFY_TOKEN``: any string, entered again in Meta's webhook settings;
- ``WHATSAPP_PHONE_NUMBER_ID``: the id of the business number replies come from;
- ``REDIS_URL``: where conversations and the update queue live (default
  ``redis://localhost:6379/0``);
- ``WHATSAPP_GRAPH_URL``: the Graph API root (default ``https://graph.facebook.com``; tests
  and the dev console point it at a fake);
- ``DEMO_API_URL``: the API the flows' ApiCalls use (default: the bundled demo API,
  in-process);
- ``FLOWHQ_ENTRY``: the flow a new conversation starts (default ``pizza_order``).

Several processes (``uvicorn --workers 4``, or several machines) share one Redis: updates are
recorded on Redis Streams and each conversation is handled in order by one of them.
"""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette

from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from examples.pizza import PizzaOrder
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import Headquarters, RedisStore
from flowhq.channels.whatsapp import WhatsAppMessenger, webhook_app

FLOWS = [PizzaOrder, SupportMenu, OrderStatus, Signup]


def build_app(env: os._Environ[str] | dict[str, str] = os.environ) -> Starlette:
    """The webhook app, configured from ``env``."""
    messenger = WhatsAppMessenger(
        phone_number_id=env["WHATSAPP_PHONE_NUMBER_ID"],
        access_token=env["WHATSAPP_TOKEN"],
        base_url=env.get("WHATSAPP_GRAPH_URL", "https://graph.facebook.com"),
    )
    store = RedisStore.from_url(env.get("REDIS_URL", "redis://localhost:6379/0"))
    if env.get("DEMO_API_URL"):
        api = httpx.AsyncClient(base_url=env["DEMO_API_URL"])
    else:
        api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=DemoApi()), base_url="http://demo"
        )
    hq = Headquarters(
        flows=FLOWS,
        entry=env.get("FLOWHQ_ENTRY", PizzaOrder.name),
        store=store,
        messenger=messenger,
        api=api,
        ttl=30 * 24 * 3600,  # forget conversations a month after their last message
    )
    return webhook_app(
        hq,
        app_secret=env["WHATSAPP_APP_SECRET"],
        verify_token=env["WHATSAPP_VERIFY_TOKEN"],
    )


REQUIRED = (
    "WHATSAPP_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
)


def __getattr__(name: str) -> Starlette:
    """``app``, built on first use (what ``uvicorn examples.whatsapp_bot:app`` asks for).

    Built lazily so the module imports without the environment (tests call ``build_app``).
    """
    if name != "app":
        raise AttributeError(name)
    missing = [variable for variable in REQUIRED if not os.environ.get(variable)]
    if missing:
        raise RuntimeError(
            f"examples.whatsapp_bot needs {', '.join(missing)} in the environment "
            "(see docs/whatsapp.md)"
        )
    app = build_app()
    globals()["app"] = app
    return app

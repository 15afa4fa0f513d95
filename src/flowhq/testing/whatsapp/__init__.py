"""A testing kit for WhatsApp bots: a fake Graph API and Meta-shaped webhook deliveries.

Needs the ``whatsapp`` extra. :class:`FakeGraphApi` is an ASGI app standing in for the Graph
API's ``/messages`` endpoint (point a ``WhatsAppMessenger`` at it); :mod:`.payloads` builds
the deliveries Meta posts to a webhook. docs/whatsapp.md shows them at work.
"""

from flowhq.testing.whatsapp.fake_graph import (
    Delivery,
    FakeGraphApi,
    ReadRequest,
    Refusal,
    refuse,
)
from flowhq.testing.whatsapp.payloads import (
    PHONE_NUMBER_ID,
    button_reply,
    changed,
    delivery,
    list_reply,
    location,
    media,
    status,
    text,
    wamid,
)

# Plain sorted() order, as the tests check; ruff's isort-style order differs.
__all__ = [  # noqa: RUF022
    "Delivery",
    "FakeGraphApi",
    "PHONE_NUMBER_ID",
    "ReadRequest",
    "Refusal",
    "button_reply",
    "changed",
    "delivery",
    "list_reply",
    "location",
    "media",
    "refuse",
    "status",
    "text",
    "wamid",
]

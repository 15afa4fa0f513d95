"""The WhatsApp Cloud API channel: signed webhooks in, Cloud API messages out.

Needs the ``whatsapp`` extra (``pip install flowhq[whatsapp]``) for Starlette.

``verify_signature`` checks ``X-Hub-Signature-256`` against the raw body; ``parse_webhook``
turns the body into channel-neutral :class:`~flowhq.messaging.types.InboundMessage` values
and delivery :class:`Status` updates, raising :class:`~flowhq.errors.ChannelError` when the
envelope itself is malformed. :class:`WhatsAppMessenger` renders replies as Cloud API
messages (text, reply buttons, lists) and sends them through httpx.

The update queue (``MemoryQueue``, ``RedisStreamQueue``, ``UpdateQueue``) lives in
:mod:`flowhq.inbox`; importing it from here still works for one release, with a
``DeprecationWarning``.
"""

from flowhq.channels.whatsapp._deprecated import moved
from flowhq.channels.whatsapp._message import CHANNEL
from flowhq.channels.whatsapp.app import webhook_app
from flowhq.channels.whatsapp.inbound import Status, StatusError, WebhookBatch, parse_webhook
from flowhq.channels.whatsapp.messenger import WhatsAppMessenger
from flowhq.channels.whatsapp.outbound import MORE_PREFIX, parse_more, render
from flowhq.channels.whatsapp.signature import verify_signature
from flowhq.errors import ChannelError as ChannelError  # importable here too, listed in errors

# Plain sorted() order, as tests/test_public_api.py checks; ruff's isort-style order differs.
__all__ = [
    "CHANNEL",
    "MORE_PREFIX",
    "Status",
    "StatusError",
    "WebhookBatch",
    "WhatsAppMessenger",
    "parse_more",
    "parse_webhook",
    "render",
    "verify_signature",
    "webhook_app",
]


def __getattr__(name: str) -> object:
    return moved(__name__, name)

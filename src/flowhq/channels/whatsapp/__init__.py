"""The WhatsApp Cloud API channel: reading webhook deliveries and checking their signatures.

``verify_signature`` checks ``X-Hub-Signature-256`` against the raw body; ``parse_webhook``
turns the body into channel-neutral :class:`~flowhq.messaging.types.InboundMessage` values
and delivery :class:`Status` updates, raising :class:`~flowhq.errors.ChannelError` when the
envelope itself is malformed.
"""

from flowhq.channels.whatsapp.inbound import Status, StatusError, WebhookBatch, parse_webhook
from flowhq.channels.whatsapp.signature import verify_signature
from flowhq.errors import ChannelError

__all__ = [
    "ChannelError",
    "Status",
    "StatusError",
    "WebhookBatch",
    "parse_webhook",
    "verify_signature",
]

"""Message types and the messenger seam."""

from flowhq.messaging.messenger import ConsoleMessenger, Messenger, RecordingMessenger
from flowhq.messaging.types import InboundMessage, OutboundMessage

__all__ = [
    "ConsoleMessenger",
    "InboundMessage",
    "Messenger",
    "OutboundMessage",
    "RecordingMessenger",
]

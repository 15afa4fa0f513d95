"""Message types and the messenger seam."""

from flowhq.messaging.messenger import ConsoleMessenger, Messenger, RecordingMessenger
from flowhq.messaging.types import InboundMessage, Location, Media, OutboundMessage

__all__ = [
    "ConsoleMessenger",
    "InboundMessage",
    "Location",
    "Media",
    "Messenger",
    "OutboundMessage",
    "RecordingMessenger",
]

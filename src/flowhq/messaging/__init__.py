"""Message types, the conversation key and the messenger seam."""

from flowhq.messaging.key import ConversationKey
from flowhq.messaging.messenger import ConsoleMessenger, Messenger, RecordingMessenger
from flowhq.messaging.types import InboundMessage, Location, Media, OutboundMessage, Template

__all__ = [
    "ConsoleMessenger",
    "ConversationKey",
    "InboundMessage",
    "Location",
    "Media",
    "Messenger",
    "OutboundMessage",
    "RecordingMessenger",
    "Template",
]

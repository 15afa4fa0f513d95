"""The WhatsApp Cloud API channel: rendering and sending replies, and a fake Graph API."""

from flowhq.channels.whatsapp.messenger import WhatsAppMessenger
from flowhq.channels.whatsapp.outbound import MORE_PREFIX, check_flow, parse_more, render

__all__ = ["MORE_PREFIX", "WhatsAppMessenger", "check_flow", "parse_more", "render"]

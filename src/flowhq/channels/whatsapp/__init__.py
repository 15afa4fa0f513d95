"""The WhatsApp Cloud API channel: rendering and sending replies, and a fake Graph API.

Needs the ``whatsapp`` extra (``pip install flowhq[whatsapp]``) for Starlette.
"""

from flowhq.channels.whatsapp.fake_graph import FakeGraphApi
from flowhq.channels.whatsapp.messenger import WhatsAppMessenger
from flowhq.channels.whatsapp.outbound import MORE_PREFIX, check_flow, parse_more, render

# Plain sorted() order, as tests/test_public_api.py checks; ruff's isort-style order differs.
__all__ = [  # noqa: RUF022
    "FakeGraphApi",
    "MORE_PREFIX",
    "WhatsAppMessenger",
    "check_flow",
    "parse_more",
    "render",
]

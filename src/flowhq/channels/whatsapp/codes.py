"""Meta's error codes, sorted by what flowhq does about them (docs/whatsapp.md, "Errors").

Graph answers a refused ``/messages`` request with an HTTP status and an error ``code``;
the code decides, the status only where the code alone does not (a 5xx without a known
code is the server's trouble, a 4xx without one the request's):

- ``THROTTLED``: too many messages for now. Retried with backoff (``Retry-After``
  honoured); when retries run out the replies stay in the outbox.
- ``AUTH``: the token expired, lacks a permission, or the app is blocked. Sending pauses
  for that business number, replies stay pending, one ERROR and ``on_alert`` say so; once
  a request goes through again (a probe now and then, or ``update_token``) the backlog
  goes out in order.
- ``CONFIGURATION``: a problem of the account or the number Meta says may pass. Retried a
  bounded number of times, then recorded and dropped.
- ``PERMANENT``: this message will never be delivered (outside the window, the user
  cannot be reached, the payload is wrong): recorded in the conversation and dropped.
"""

from __future__ import annotations

import enum

__all__ = [
    "AUTH_CODES",
    "CONFIGURATION_CODES",
    "PERMANENT_CODES",
    "THROTTLING_CODES",
    "ErrorClass",
    "classify",
]


class ErrorClass(enum.Enum):
    """What to do about a refused request."""

    THROTTLED = "throttled"
    SERVER = "server"
    AUTH = "auth"
    CONFIGURATION = "configuration"
    PERMANENT = "permanent"


THROTTLING_CODES = frozenset({4, 80007, 130429, 131048, 131056, 131064, 133004, 131016})
"""App rate limit (4), account rate limit (80007), throughput (130429), spam rate limit
(131048), pair rate limit (131056), "try again later" (131064), server temporarily
unavailable (133004), service unavailable (131016)."""

AUTH_CODES = frozenset({0, 10, 190, 131005, *range(200, 300)})
"""Authentication (0), permission denied (10), token expired or invalid (190), access
denied (131005), a missing permission (200-299)."""

CONFIGURATION_CODES = frozenset({3, 131000, 131045})
"""Capability or permission of the app (3), "something went wrong" (131000), incorrect
certificate / number not registered (131045)."""

PERMANENT_CODES = frozenset(
    {100, 131008, 131009, 131021, 131026, 131047, 131051, 131052, 131053, *range(132000, 132017)}
)
"""Invalid parameter (100), a required parameter missing (131008), a value not valid
(131009), sender and recipient the same (131021), undeliverable (131026), outside the
24-hour window (131047), unsupported message type (131051), media download (131052) and
upload (131053) errors, template errors (132000-132016). Any other 4xx is permanent too."""


def classify(status: int, code: int | None) -> ErrorClass:
    """What to do about a Graph error answered with HTTP ``status`` and ``code``."""
    if code in THROTTLING_CODES or status == 429:
        return ErrorClass.THROTTLED
    if code in AUTH_CODES or status == 401:
        return ErrorClass.AUTH
    if code in CONFIGURATION_CODES:
        return ErrorClass.CONFIGURATION
    if code in PERMANENT_CODES:
        return ErrorClass.PERMANENT
    return ErrorClass.SERVER if status >= 500 else ErrorClass.PERMANENT

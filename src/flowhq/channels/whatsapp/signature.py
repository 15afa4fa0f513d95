"""Checking that a webhook delivery really comes from Meta.

Meta signs every ``POST`` to the webhook with the app secret and sends the result as
``X-Hub-Signature-256: sha256=<hex digest>``, an HMAC-SHA256 of the raw request body.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
"""The request header that carries Meta's signature of the body."""

_HEADER = re.compile(r"sha256=([0-9a-fA-F]{64})")


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body`` (for simulators and tests)."""
    return "sha256=" + _digest(body, app_secret.encode("utf-8"))


def _digest(body: bytes, key: bytes) -> str:
    return hmac.new(key, bytes(body), hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """Tell whether ``header`` is Meta's signature of ``body`` under ``app_secret``.

    The digests are compared in constant time, so a forger learns nothing from timing.
    Bad input of any kind (no header, another scheme, a digest that is not 64 hex digits,
    an empty secret) gives ``False``; this function never raises.

    Args:
        body: The raw request body, exactly as received (before any JSON parsing).
        header: The value of the ``X-Hub-Signature-256`` header, or ``None`` when absent.
        app_secret: The Meta app secret the signature was made with.

    Returns:
        ``True`` only when the header holds the body's HMAC-SHA256 under the secret.
    """
    if not isinstance(header, str) or not isinstance(app_secret, str) or not app_secret:
        return False
    if not isinstance(body, bytes | bytearray | memoryview):
        return False
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        return False
    try:
        key = app_secret.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be the secret Meta holds
        return False
    return hmac.compare_digest(_digest(body, key), match.group(1).lower())

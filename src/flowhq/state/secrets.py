"""Keeping the auth token secret: normalising it on the way in, redacting it on the way out.

The token is the one secret in a conversation. It must never reach a log line, an error
text, the validation history, a repr, the CLI or a diagram; :func:`redact` is applied where
text leaves a component (errors, recorded failures, logged tracebacks).
"""

from __future__ import annotations

import unicodedata

__all__ = ["REDACTED", "normalize_token", "redact"]

REDACTED = "***"


def normalize_token(token: str) -> str:
    """Strip surrounding whitespace and refuse tokens that could not be sent in a header.

    Raises:
        ValueError: the token is empty or contains control characters (the message never
            contains the token).
    """
    if not isinstance(token, str):
        raise ValueError(f"auth token must be a string, not {type(token).__name__}")
    token = token.strip()
    if not token:
        raise ValueError("auth token is empty")
    if any(unicodedata.category(ch).startswith("C") for ch in token):
        raise ValueError("auth token contains control or invisible characters")
    return token


def redact(text: str, token: str | None) -> str:
    """``text`` with every occurrence of ``token`` replaced by ``***``."""
    if token and token in text:
        return text.replace(token, REDACTED)
    return text

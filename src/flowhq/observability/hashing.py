"""Identifiers, pseudonymised: what logs and traces show instead of a phone number.

A keyed BLAKE2b of ``channel:identifier``, 16 hex digits: the same conversation gets the
same value in every process (logs, spans and the store can be joined), and without the key
it cannot be turned back into the number by trying every phone number. The key is the
``FLOWHQ_HASH_KEY`` environment variable, read once at import; set the same value in every
process of a deployment (without it the hash is still stable, but a phone number can be
found again by hashing candidates: docs/operations.md).
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["HASH_KEY_ENV", "hashed"]

HASH_KEY_ENV = "FLOWHQ_HASH_KEY"
"""The environment variable holding the key of :func:`hashed`."""

_KEY = os.environ.get(HASH_KEY_ENV, "").encode()[:64]


def hashed(value: object) -> str:
    """``value`` (a ``ConversationKey`` or any identifier) as 16 hex digits."""
    digest = hashlib.blake2b(str(value).encode("utf-8", "surrogatepass"), key=_KEY, digest_size=8)
    return digest.hexdigest()

"""Encrypting the auth token at rest (AES-GCM; needs ``pip install flowhq[crypto]``).

With keys configured, the token is stored as ``enc:v1:<key id>:<base64 of nonce+ciphertext>``,
bound to its conversation (the channel and identifier are the associated data, so a token
copied into another conversation's document does not decrypt). A Redis dump or AOF file then
holds no usable token.

Key rotation: put the new key first and keep the old ones after it. New commits encrypt with
the first key; documents written with an older key still decrypt, and are re-encrypted with
the new key on their next commit. Drop an old key once no stored conversation uses it (or
once its conversations expired).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from flowhq.errors import TokenCipherError

__all__ = ["PREFIX", "TokenCipher"]

PREFIX = "enc:v1:"
"""Marks an encrypted token in a stored document."""


def _key_bytes(key: bytes | str) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) != 32:
        try:
            raw = base64.urlsafe_b64decode(raw)
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != 32:
        raise TokenCipherError(
            "a token key is 32 bytes, or their URL-safe base64 "
            "(make one with TokenCipher.generate_key())"
        )
    return raw


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class TokenCipher:
    """Encrypts and decrypts auth tokens with AES-GCM.

    Args:
        keys: 32-byte keys (or their URL-safe base64), newest first. The first encrypts;
            every one decrypts.

    Raises:
        TokenCipherError: no key, or a malformed one.
        ImportError: the ``cryptography`` package is missing (``flowhq[crypto]``).
    """

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

        if not keys:
            raise TokenCipherError("TokenCipher needs at least one key")
        self._ciphers = {}
        order = []
        for key in keys:
            raw = _key_bytes(key)
            order.append(_key_id(raw))
            self._ciphers[order[-1]] = AESGCM(raw)
        self._current = order[0]

    def __repr__(self) -> str:
        return f"TokenCipher(keys={len(self._ciphers)}, current={self._current})"

    @staticmethod
    def generate_key() -> str:
        """A new random key, as URL-safe base64 (keep it in your secrets manager)."""
        return base64.urlsafe_b64encode(os.urandom(32)).decode()

    def encrypt(self, token: str, conversation: str) -> str:
        """The stored form of ``token`` for ``conversation`` (``channel:identifier``)."""
        nonce = os.urandom(12)
        sealed = self._ciphers[self._current].encrypt(nonce, token.encode(), conversation.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{PREFIX}{self._current}:{payload}"

    def decrypt(self, stored: str, conversation: str) -> str:
        """The token from its stored form.

        Raises:
            TokenCipherError: unknown key id, or the value was tampered with or belongs to
                another conversation (the message never contains the token).
        """
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415

        key_id, _, payload = stored.removeprefix(PREFIX).partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise TokenCipherError(f"the auth token is encrypted with key {key_id}, not configured")
        try:
            raw = base64.urlsafe_b64decode(payload)
            return cipher.decrypt(raw[:12], raw[12:], conversation.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise TokenCipherError("the stored auth token does not decrypt") from None

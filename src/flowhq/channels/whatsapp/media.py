"""Media over the Cloud API: uploading a file to send, downloading one a user sent.

``POST /{phone_number_id}/media`` (multipart) stores a file and answers its media id, which
``Media.image(id)`` and friends can send. A received media id is fetched in two steps:
``GET /{media_id}`` answers a short-lived URL with the MIME type, sha256 and size, and a
``GET`` of that URL (with the same bearer token) streams the bytes. :func:`download` stops
as soon as the bytes pass ``max_bytes`` and checks the hash before handing them over.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from flowhq.errors import ChannelError
from flowhq.messaging.types import Media

__all__ = ["DEFAULT_MAX_BYTES", "MediaRef", "download", "media_id", "upload"]

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
"""The largest download accepted by default (Meta's largest media, a document, is 100 MB)."""

MediaRef = Media | Mapping[str, Any] | str
"""A received media: a ``Media``, the reference a ``Prompt`` saved, or a bare media id."""


async def upload(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    content: bytes | str | os.PathLike[str],
    mime_type: str,
    *,
    filename: str | None = None,
) -> str:
    """Upload ``content`` (bytes or a file path) to ``url``; return the media id.

    Raises:
        ChannelError: Meta refused the file or answered without an id.
        httpx.HTTPError: the request failed on the way.
    """
    if isinstance(content, bytes):
        data, name = content, filename or "upload"
    else:
        path = Path(content)
        data, name = await asyncio.to_thread(path.read_bytes), filename or path.name
    response = await client.post(
        url,
        headers=dict(headers),
        data={"messaging_product": "whatsapp", "type": mime_type},
        files={"file": (name, data, mime_type)},
    )
    body = _json(response, "upload")
    media_id = body.get("id")
    if not isinstance(media_id, str) or not media_id:
        raise ChannelError("upload: Meta answered without a media id")
    return media_id


async def download(
    client: httpx.AsyncClient,
    info_url: str,
    headers: Mapping[str, str],
    ref: MediaRef,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """The bytes of the received media ``ref``, at most ``max_bytes``, hash checked.

    Raises:
        ChannelError: Meta refused, the media is larger than ``max_bytes``, or its bytes do
            not match its sha256.
        httpx.HTTPError: a request failed on the way.
    """
    expected = _sha256_of(ref)
    info = _json(await client.get(info_url, headers=dict(headers)), "media lookup")
    url, size = info.get("url"), info.get("file_size")
    if not isinstance(url, str) or not url:
        raise ChannelError("media lookup: Meta answered without a URL")
    if isinstance(size, int) and size > max_bytes:
        raise ChannelError(f"media of {size} bytes is over the limit of {max_bytes}")
    expected = expected or (info["sha256"] if isinstance(info.get("sha256"), str) else None)
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    total = 0
    async with client.stream("GET", url, headers=dict(headers)) as response:
        if response.is_error:
            raise ChannelError(f"media download: HTTP {response.status_code}")
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > max_bytes:
                raise ChannelError(f"media is over the limit of {max_bytes} bytes")
            digest.update(chunk)
            chunks.append(chunk)
    if expected is not None and not _matches(digest.digest(), expected):
        raise ChannelError("media download: the bytes do not match their sha256")
    return b"".join(chunks)


def media_id(ref: MediaRef) -> str:
    """The media id of ``ref``.

    Raises:
        ValueError: ``ref`` names no media id (media sent by link).
    """
    if isinstance(ref, str):
        found: object = ref
    elif isinstance(ref, Media):
        found = ref.id
    else:
        found = ref.get("id")
    if not isinstance(found, str) or not found:
        raise ValueError("this media has no id to download")
    return found


def _sha256_of(ref: MediaRef) -> str | None:
    if isinstance(ref, Media):
        return ref.sha256
    if isinstance(ref, Mapping):
        value = ref.get("sha256")
        return value if isinstance(value, str) else None
    return None


def _matches(digest: bytes, expected: str) -> bool:
    """Meta writes the sha256 as hex in some places and base64 in others: accept both."""
    return expected.lower() == digest.hex() or expected == base64.b64encode(digest).decode()


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.is_error:
        raise ChannelError(f"{what}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise ChannelError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise ChannelError(f"{what}: the answer is not a JSON object")
    return body

"""``WhatsAppMessenger``: deliver replies through the WhatsApp Cloud API ``/messages`` endpoint.

Failures are sorted by Meta's code (:mod:`flowhq.channels.whatsapp.codes`): throttling,
timeouts and server errors are retried here with exponential backoff and, when retries run
out, raised as a temporary :class:`~flowhq.errors.DeliveryError`; an auth failure pauses
sending (replies kept, one alert); configuration errors are retried a bounded number of
times; refusals (the user is outside the 24-hour window, the payload is invalid, ...) are
raised at once as permanent ones.

The access token goes into the ``Authorization`` header of each request and nowhere else: not
into logs, exception messages or ``repr()``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import httpx
import orjson

from flowhq.channels.whatsapp._guard import AlertCallback, Failure, SendGuard
from flowhq.channels.whatsapp.codes import PERMANENT_CODES, THROTTLING_CODES, ErrorClass, classify
from flowhq.channels.whatsapp.identity import Identities
from flowhq.channels.whatsapp.media import DEFAULT_MAX_BYTES, MediaRef, media_id
from flowhq.channels.whatsapp.media import download as download_media
from flowhq.channels.whatsapp.media import upload as upload_media
from flowhq.channels.whatsapp.outbound import check_flow, render
from flowhq.errors import DeliveryError, StoreUnavailableError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage, OutboundMessage

__all__ = [
    "CALLBACK_PREFIX",
    "PERMANENT_CODES",
    "RETRYABLE_CODES",
    "RETRY_AFTER_CAP",
    "WhatsAppMessenger",
    "callback_data",
    "entry_of",
]

logger = logging.getLogger("flowhq.channels.whatsapp")

RETRYABLE_CODES = THROTTLING_CODES
"""Meta error codes retried with backoff (see :mod:`flowhq.channels.whatsapp.codes`)."""
RETRY_AFTER_CAP = 30.0
"""The longest ``Retry-After`` wait honoured, in seconds; a batch should not stall for long."""


class WhatsAppMessenger:
    """A :class:`~flowhq.messaging.messenger.Messenger` for the WhatsApp Cloud API.

    Args:
        phone_number_id: The business phone number id replies are sent from.
        access_token: A system-user or app access token (kept out of logs and ``repr``).
        numbers: Several business numbers served by one app: ``{phone_number_id: token}``.
            A conversation is answered from the number the user last wrote to (the first
            number when it never wrote); updates to other numbers are refused.
        base_url: The Graph API root; point it at a fake in tests.
        api_version: The Graph API version in the path.
        client: An ``httpx.AsyncClient`` to use; one is created (and closed by
            :meth:`aclose`) when omitted.
        timeout: Seconds allowed for each request.
        max_retries: Retries of one request after a temporary failure (0 = try once).
        backoff: Seconds before the first retry; doubles after each.
        preview_url: Let WhatsApp show link previews in text replies.
        mark_read: :meth:`acknowledge` marks inbound messages read.
        typing: :meth:`acknowledge` also shows the typing indicator.
        on_alert: Called (sync or async) with one line when Meta refuses the access token:
            sending pauses and replies are kept until it is fixed (:meth:`update_token`).
        config_retries: Tries of a reply that meets a configuration error (3, 131000,
            131045) before it is recorded and dropped.
        probe_every: Seconds between requests that find out whether a refused token
            works again, while sending is paused.

    Raises:
        ValueError: when the access token is empty or contains control characters.
    """

    service_window: float = 24 * 3600
    """Seconds after the user's last message during which free-form replies may be sent
    (Meta's customer-service window); later, only approved templates."""

    window_codes: frozenset[int] = frozenset({131047})
    """Meta's code for "outside the window" (131047): such a refusal is recorded as the
    window closing, as if the clock here had said so."""

    def __init__(
        self,
        *,
        phone_number_id: str | None = None,
        access_token: str | None = None,
        numbers: Mapping[str, str] | None = None,
        base_url: str = "https://graph.facebook.com",
        api_version: str = "v25.0",
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        preview_url: bool = False,
        mark_read: bool = True,
        typing: bool = True,
        on_alert: AlertCallback | None = None,
        config_retries: int = 5,
        probe_every: float = 30.0,
    ) -> None:
        self._tokens = _numbers(phone_number_id, access_token, numbers)
        if max_retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("max_retries and backoff must be >= 0 and timeout > 0")
        self.phone_number_id = next(iter(self._tokens))
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.url = self._url(self.phone_number_id)
        self._received: OrderedDict[str, str] = OrderedDict()  # inbound wamid -> our number
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.preview_url = preview_url
        self.mark_read = mark_read
        self.typing = typing
        self._owns_client = client is None
        self._guard = SendGuard(
            config_retries=config_retries, probe_every=probe_every, on_alert=on_alert
        )
        self.identities: Identities | None = None
        """Where a conversation's replies go now (phone number or BSUID); ``webhook_app``
        sets it. Without it, replies go to the conversation's identifier."""
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return (
            f"WhatsAppMessenger(numbers={sorted(self._tokens)!r}, "
            f"base_url={self.base_url!r}, api_version={self.api_version!r})"
        )

    @property
    def numbers(self) -> frozenset[str]:
        """The business phone number ids this messenger sends from."""
        return frozenset(self._tokens)

    def serves(self, phone_number_id: object) -> bool:
        """Whether updates to ``phone_number_id`` are this messenger's to answer.

        An update that names no number (no ``metadata``) is answered from the first one.
        """
        return phone_number_id is None or phone_number_id in self._tokens

    def received(self, message: InboundMessage) -> None:
        """Note which of our numbers ``message`` was sent to (its read receipt goes there)."""
        number = message.data.get("phone_number_id")
        if isinstance(number, str) and number in self._tokens and len(self._tokens) > 1:
            self._received[message.message_id] = number
            while len(self._received) > RECEIVED_LIMIT:
                self._received.popitem(last=False)

    def _url(self, number: str) -> str:
        return f"{self.base_url}/{self.api_version}/{number}/messages"

    async def __aenter__(self) -> WhatsAppMessenger:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this messenger created it."""
        if self._owns_client:
            await self._client.aclose()

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        """Deliver ``messages``, in order, to the WhatsApp user of ``key``.

        The user is addressed by phone number (``to``) or, when Meta gives no number, by
        business-scoped user id (``recipient``); see :attr:`identities`.

        A message rendered as several payloads counts as sent once all of them went out.

        Raises:
            DeliveryError: ``permanent`` when WhatsApp refused a message, temporary when
                retries ran out; ``sent`` says how many messages were fully delivered.
        """
        to, number = await self._address(key.identifier)
        for sent, message in enumerate(messages):
            for payload in render(message, to, preview_url=self.preview_url, offset=message.offset):
                if message.ref is not None:  # Meta echoes it in the message's statuses
                    payload["biz_opaque_callback_data"] = callback_data(key.identifier, message.ref)
                await self._post(payload, sent=sent, number=number)

    async def _address(self, identifier: str) -> tuple[str, str]:
        """Who the conversation ``identifier`` is answered at, and from which of our numbers.

        The user: their phone number or BSUID; our number: the one they last wrote to.
        """
        if self.identities is None:
            return identifier, self.phone_number_id
        try:
            address = await self.identities.address(identifier)
        except StoreUnavailableError as exc:
            raise DeliveryError(f"no address: {exc}", permanent=False) from exc
        to, _, number = address.partition(ADDRESS_SEPARATOR)
        return to, number if number in self._tokens else self.phone_number_id

    async def acknowledge(self, message_id: str) -> None:
        """Mark an inbound message read and show the typing indicator; never raises.

        A failure only costs the user the blue ticks, so it is logged and swallowed.
        Does nothing when ``mark_read`` is off.
        """
        if not self.mark_read:
            return
        number = self._received.pop(message_id, self.phone_number_id)
        if self._guard.is_paused(number):  # the token is refused: no request per message
            return
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        }
        if self.typing:
            payload["typing_indicator"] = {"type": "text"}
        try:
            response = await self._request(payload, number)
        except Exception as exc:  # acknowledging must never break the handling of a message
            logger.warning("WhatsApp: could not mark %s read: %s", message_id, self._redact(exc))
            return
        if response.is_error:
            failure = self._failure(response)
            logger.warning(
                "WhatsApp: could not mark %s read: %s", message_id, self._redact(failure.reason)
            )

    def check_flows(self, flows: Iterable[type]) -> list[str]:
        """Run :func:`~flowhq.channels.whatsapp.outbound.check_flow` over ``flows``.

        Returns:
            Every problem found, one line each.
        """
        return [problem for flow in flows for problem in check_flow(flow)]

    async def _request(self, payload: dict[str, Any], number: str) -> httpx.Response:
        # orjson rather than httpx's json=, which encodes with the slower standard library.
        return await self._client.post(
            self._url(number),
            content=orjson.dumps(payload),
            headers={
                "Authorization": f"Bearer {self._tokens[number]}",
                "Content-Type": "application/json",
            },
            timeout=self.timeout,
        )

    async def _post(self, payload: dict[str, Any], *, sent: int, number: str) -> None:
        paused = self._guard.paused(number)
        if paused is not None:  # no request until the next probe
            raise DeliveryError(f"sending paused: {paused.reason}", sent=sent, code=paused.code)
        failure: Failure | None = None
        for attempt in range(self.max_retries + 1):
            if failure is not None:
                delay = self.backoff * 2 ** (attempt - 1)
                if failure.wait is not None:
                    delay = max(delay, min(failure.wait, RETRY_AFTER_CAP))
                await asyncio.sleep(delay)
            failure = await self._attempt(payload, number)
            if failure is None:
                self._guard.succeeded(number, payload)
                return
            if failure.kind not in _RETRIED:
                raise await self._guard.refusal(number, failure, payload, sent=sent)
        assert failure is not None
        reason = f"{failure.reason}; gave up after {self.max_retries + 1} attempts"
        if failure.kind is ErrorClass.CONFIGURATION:  # counted: a bounded number of sends
            failure = attrs.evolve(failure, reason=reason)
            raise await self._guard.refusal(number, failure, payload, sent=sent)
        logger.warning("WhatsApp: a delivery failed for now: %s", reason)
        raise DeliveryError(reason, sent=sent, permanent=False, code=failure.code)

    async def _attempt(self, payload: dict[str, Any], number: str) -> Failure | None:
        """One request: ``None`` when it went through, else why not."""
        try:
            response = await self._request(payload, number)
        except httpx.TimeoutException:
            return Failure("request timed out", ErrorClass.SERVER)
        except httpx.TransportError as exc:
            return Failure(f"connection failed ({type(exc).__name__})", ErrorClass.SERVER)
        return self._failure(response) if response.is_error else None

    async def upload(
        self,
        content: bytes | str | os.PathLike[str],
        mime_type: str,
        *,
        filename: str | None = None,
        phone_number_id: str | None = None,
    ) -> str:
        """Upload a file to send later: ``Media.image(await messenger.upload(...))``.

        Args:
            content: The bytes, or a file's path.
            mime_type: Its MIME type (``"image/jpeg"``, ``"application/pdf"``, ...).
            filename: The name a document shows (default: the file's name).
            phone_number_id: The number it is uploaded for (default: the first).

        Returns:
            The media id (Meta keeps uploads for 30 days).

        Raises:
            ChannelError: Meta refused the file.
            httpx.HTTPError: the request failed on the way.
        """
        number = phone_number_id or self.phone_number_id
        url = f"{self.base_url}/{self.api_version}/{number}/media"
        headers = {"Authorization": f"Bearer {self._tokens[number]}"}
        return await upload_media(self._client, url, headers, content, mime_type, filename=filename)

    async def download(
        self,
        ref: MediaRef,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        phone_number_id: str | None = None,
    ) -> bytes:
        """The bytes of a media a user sent, at most ``max_bytes``, its sha256 checked.

        Args:
            ref: The ``Media`` of the message, the reference a ``Prompt`` saved, or an id.
            max_bytes: Refuse media larger than this (before or while reading it).
            phone_number_id: The number whose token reads it (default: the first).

        Raises:
            ChannelError: Meta refused, the media is too large, or its hash is wrong.
            ValueError: ``ref`` has no media id.
            httpx.HTTPError: a request failed on the way.
        """
        number = phone_number_id or self.phone_number_id
        url = f"{self.base_url}/{self.api_version}/{media_id(ref)}"
        headers = {"Authorization": f"Bearer {self._tokens[number]}"}
        return await download_media(self._client, url, headers, ref, max_bytes=max_bytes)

    def update_token(self, access_token: str, *, phone_number_id: str | None = None) -> None:
        """Use a new access token from now on, and resume sending if it was paused.

        ``phone_number_id`` names the number it is for (default: the first number).

        The replies kept while the old token failed go out, in order, with the next
        handling of their conversations or the next ``redeliver()``.

        Raises:
            ValueError: an empty token, or one with control or non-ASCII characters.
        """
        number = phone_number_id or self.phone_number_id
        if number not in self._tokens:
            raise ValueError("update_token: not a number of this messenger")
        self._tokens[number] = _valid_token(access_token)
        self._guard.resume(number)

    @property
    def paused(self) -> bool:
        """Whether sending from any of the numbers is paused: Meta refuses its token."""
        return any(self._guard.is_paused(number) for number in self._tokens)

    def _failure(self, response: httpx.Response) -> Failure:
        """Classify an error response from its status and Graph error body."""
        error = _graph_error(response)
        code = error.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        text = str(error.get("message") or response.reason_phrase or "error")
        reason = f"HTTP {response.status_code}: {text}" + (f" ({details})" if details else "")
        kind = classify(response.status_code, code)
        return Failure(self._redact(reason), kind, code=code, wait=_retry_after(response))

    def _redact(self, text: object) -> str:
        # Belt and braces: a server or proxy might echo the token back in an error text.
        shown = str(text)
        for token in self._tokens.values():
            shown = shown.replace(token, "[token]")
        return shown


_RETRIED = (ErrorClass.THROTTLED, ErrorClass.SERVER, ErrorClass.CONFIGURATION)
"""Classes retried with backoff within one send."""


CALLBACK_PREFIX = "flowhq:"
"""Starts the ``biz_opaque_callback_data`` flowhq sends: ``flowhq:<conversation>:<ref>``."""


def callback_data(identifier: str, ref: str) -> str:
    """The ``biz_opaque_callback_data`` of a reply: its conversation and outbox entry."""
    return f"{CALLBACK_PREFIX}{identifier}:{ref}"


def entry_of(data: str | None) -> tuple[str, int, int] | None:
    """``(conversation identifier, revision, seq)`` from a status's callback data, if ours."""
    if data is None or not data.startswith(CALLBACK_PREFIX):
        return None
    identifier, _, ref = data.removeprefix(CALLBACK_PREFIX).rpartition(":")
    revision, _, seq = ref.partition(".")
    if not identifier or not revision.isdigit() or not seq.isdigit():
        return None
    return identifier, int(revision), int(seq)


RECEIVED_LIMIT = 10_000
"""Inbound message ids whose business number is remembered for their read receipt."""

ADDRESS_SEPARATOR = "|"
"""Separates the user's address from our number in an identity address (``to|number``)."""


def _numbers(
    phone_number_id: str | None, access_token: str | None, numbers: Mapping[str, str] | None
) -> dict[str, str]:
    """Phone number id -> token: the single-number arguments first, then ``numbers``."""
    tokens: dict[str, str] = {}
    if phone_number_id is not None or access_token is not None:
        if phone_number_id is None or access_token is None:
            raise ValueError("give phone_number_id and access_token together")
        tokens[phone_number_id.strip()] = _valid_token(access_token)
    for number, token in (numbers or {}).items():
        tokens[number.strip()] = _valid_token(token)
    if not tokens:
        raise ValueError("no number: give phone_number_id and access_token, or numbers")
    if not all(tokens):
        raise ValueError("phone_number_id is empty")
    return tokens


def _valid_token(token: str) -> str:
    token = token.strip()
    if not token:
        raise ValueError("access_token is empty")
    if any(ord(char) < 32 or ord(char) == 127 for char in token):
        raise ValueError("access_token contains control characters")
    if not token.isascii():
        # HTTP headers are ASCII; refuse here rather than fail on every request.
        raise ValueError("access_token contains non-ASCII characters")
    return token


def _graph_error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date; rare from Graph, so the normal backoff applies
    return max(seconds, 0.0) if math.isfinite(seconds) else None

"""``FakeGraphApi``: a stand-in for the Graph API ``/messages`` endpoint, for tests and demos.

An ASGI app (Starlette) that answers like WhatsApp Cloud API: it checks the bearer token,
refuses payloads WhatsApp would refuse (the limits of
:mod:`flowhq.channels.whatsapp.outbound`) with Graph-style
errors, and records what it accepted. Faults can be programmed: failing the next requests,
refusing a recipient, answering slowly.

Not a full Graph API: ``text``, ``interactive``, ``template`` and media messages, read
receipts, and media upload and download (a template is accepted by its shape; the fake
knows no approved templates). Safe to
drive from a test thread while uvicorn serves it from another (state sits behind a lock).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from attrs import frozen
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from flowhq.channels.whatsapp import outbound as limits
from flowhq.channels.whatsapp.lengths import utf16_length
from flowhq.channels.whatsapp.outbound import is_user_id

__all__ = ["Delivery", "FakeGraphApi", "ReadRequest", "Refusal", "refuse"]

_T = TypeVar("_T")

_MESSAGES = {
    100: "Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
}

_DETAILS = {
    131026: "Message undeliverable: the recipient cannot receive this message.",
    131047: "Message failed to send because more than 24 hours have passed since the "
    "customer last replied to this number.",
}


@frozen
class Delivery:
    """A message the fake accepted.

    Attributes:
        wamid: The message id it answered with.
        to: The recipient: a phone number (``to``) or a BSUID (``recipient``).
        payload: The JSON body as posted.
        phone_number_id: The business number it was sent from (the path's).
    """

    wamid: str
    to: str
    payload: Mapping[str, Any]
    phone_number_id: str | None = None

    @property
    def text(self) -> str:
        """What the message says, as a line.

        The text body, the body of an interactive message, ``template:<name>``, or a
        media's caption (``<kind>:`` and its link or id when it has none).
        """
        kind = self.payload.get("type")
        if kind == "text":
            return str(self.payload["text"]["body"])
        if kind == "template":
            return f"template:{self.payload['template']['name']}"
        if kind in limits.MEDIA_KINDS:
            media = self.payload[kind]
            return str(media.get("caption") or f"{kind}:{media.get('link') or media.get('id')}")
        return str(self.payload["interactive"]["body"]["text"])


@frozen
class ReadRequest:
    """A request to mark a message read (and maybe show the typing indicator)."""

    message_id: str
    typing: bool


@frozen
class Refusal:
    """A message the fake refused, as WhatsApp would (over a limit, malformed).

    Attributes:
        to: The recipient.
        payload: The JSON body as posted.
        code: The Graph error code.
        details: What WhatsApp would say.
    """

    to: str
    payload: Mapping[str, Any]
    code: int
    details: str


@frozen
class _Fault:
    status: int
    code: int | None
    retry_after: float | None = None


class FakeGraphApi:
    """The Graph API ``POST /{version}/{phone_number_id}/messages`` endpoint, in memory.

    Args:
        access_token: The bearer token requests must carry.
        phone_number_id: When given, other phone number ids in the path are refused.
        numbers: Several business numbers, each with its own token (``{id: token}``):
            a request to one of them must carry its token; others are refused.
        listener: Called with each accepted ``Delivery``, each ``ReadRequest``, and each
            ``Refusal`` of a message (what a live view, such as the dev console, shows).

    Attributes:
        deliveries: Every accepted message, in order of arrival.
        reads: Every accepted read/typing request, in order.
        attempts: How many requests arrived, failed or not.
    """

    def __init__(
        self,
        *,
        access_token: str,
        phone_number_id: str | None = None,
        numbers: Mapping[str, str] | None = None,
        listener: Callable[[Delivery | ReadRequest | Refusal], None] | None = None,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.numbers = dict(numbers or {})
        self.listener = listener
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.reads: list[ReadRequest] = []
        self.attempts = 0
        self._next: list[_Fault | None] = []  # None lets one request through
        self._recipients: dict[str, _Fault] = {}
        self._delays: list[float] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        routes = [
            Route("/{version}/{phone_number_id}/messages", self._endpoint, methods=["POST"]),
            Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
            Route("/media-bytes/{media_id}", self._media_bytes, methods=["GET"]),
            Route("/{version}/{media_id}", self._media_info, methods=["GET"]),
        ]
        self._app = Starlette(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ASGI request."""
        await self._app(scope, receive, send)

    def reset(self) -> None:
        """Forget recorded requests and programmed faults."""
        with self._lock:
            self.deliveries.clear()
            self.reads.clear()
            self.attempts = 0
            self._next.clear()
            self._recipients.clear()
            self._delays.clear()

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        code: int | None = None,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Fail the next ``n`` requests with ``status`` and a Graph error ``code``.

        Args:
            n: How many requests fail.
            status: The HTTP status.
            code: The Graph error code; by default one that fits the status.
            retry_after: Seconds to put in a ``Retry-After`` header.
            after: Let this many requests through first.
        """
        with self._lock:
            self._next += [None] * after + [_Fault(status, code, retry_after)] * n

    def fail_for(self, recipient: str, *, status: int = 400, code: int | None = 131047) -> None:
        """Refuse every message to ``recipient`` until :meth:`reset` (default: 24h window)."""
        with self._lock:
            self._recipients[recipient] = _Fault(status, code)

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """Answer the next ``n`` requests ``seconds`` late (they still take effect, as on Meta)."""
        with self._lock:
            self._delays += [seconds] * n

    def add_media(self, data: bytes, mime_type: str) -> tuple[str, str]:
        """Keep ``data`` as a media a user sent; return its id and sha256 (hex)."""
        media_id = f"{len(self.media) + 1}{uuid.uuid4().int % 10**12:012d}"
        with self._lock:
            self.media[media_id] = (data, mime_type)
        return media_id, hashlib.sha256(data).hexdigest()

    async def _upload(self, request: Request) -> JSONResponse:
        """``POST /{number}/media``: keep the file of a multipart upload, answer its id."""
        if request.headers.get("authorization") not in self._bearers():
            return _error(401, 190)
        body = await request.body()
        header = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
        parts = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
        fields = {
            part.get_param("name", header="content-disposition"): part
            for part in parts.iter_parts()
        }
        file, kind = fields.get("file"), fields.get("type")
        if file is None or kind is None or fields.get("messaging_product") is None:
            return _error(400, 100, "an upload needs messaging_product, type and file")
        data = file.get_payload(decode=True)
        if not isinstance(data, bytes):
            return _error(400, 100, "the file part is empty")
        media_id, _ = self.add_media(data, str(kind.get_payload()))
        return JSONResponse({"id": media_id})

    async def _media_info(self, request: Request) -> JSONResponse:
        """``GET /{media_id}``: where to download it, its type, hash and size."""
        if request.headers.get("authorization") not in self._bearers():
            return _error(401, 190)
        media_id = request.path_params["media_id"]
        with self._lock:
            found = self.media.get(media_id)
        if found is None:
            return _error(400, 100, f"unknown media id {media_id}")
        data, mime_type = found
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{str(request.base_url).rstrip('/')}/media-bytes/{media_id}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    async def _media_bytes(self, request: Request) -> Response:
        """The bytes behind a media URL (the bearer token is needed here too)."""
        if request.headers.get("authorization") not in self._bearers():
            return _error(401, 190)
        with self._lock:
            found = self.media.get(request.path_params["media_id"])
        if found is None:
            return _error(404, 100, "no such media")
        return Response(found[0], media_type=found[1])

    def _bearers(self) -> set[str]:
        return {f"Bearer {token}" for token in (self.access_token, *self.numbers.values())}

    def messages(self, recipient: str | None = None) -> list[Delivery]:
        """The accepted messages, optionally only those to ``recipient``."""
        with self._lock:
            return [d for d in self.deliveries if recipient is None or d.to == recipient]

    def texts(self, recipient: str | None = None) -> list[str]:
        """The bodies of the accepted messages, optionally only those to ``recipient``."""
        return [delivery.text for delivery in self.messages(recipient)]

    async def _endpoint(self, request: Request) -> JSONResponse:
        # Read the body before any delay: a client that times out has still sent it.
        body = await request.body()
        with self._lock:
            self.attempts += 1
            delay = self._delays.pop(0) if self._delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        try:
            payload = self._admit(request, body)
            if payload.get("status") == "read":
                return self._read(payload)
            return self._message(payload, request.path_params["phone_number_id"])
        except _RefusalError as exc:
            return _error(exc.status, exc.code, exc.details, retry_after=exc.retry_after)

    def _admit(self, request: Request, body: bytes) -> dict[str, Any]:
        """The request's JSON body, once the token, path and programmed faults let it pass."""
        number = request.path_params["phone_number_id"]
        token = self.numbers.get(number, self.access_token)
        if request.headers.get("authorization") != f"Bearer {token}":
            raise _RefusalError(190, status=401)
        try:
            payload = json.loads(body)
        except ValueError:
            raise _RefusalError(100, "the body is not JSON") from None
        known = number in self.numbers or self.phone_number_id in (None, number)
        _require(known, 100, f"unknown phone number id {number}")
        with self._lock:
            fault = self._next.pop(0) if self._next else None
        if fault is not None:
            raise _RefusalError(fault.code, status=fault.status, retry_after=fault.retry_after)
        if not isinstance(payload, dict):
            raise _RefusalError(100, "the body is not a JSON object")
        return payload

    def _read(self, payload: dict[str, Any]) -> JSONResponse:
        message_id = payload.get("message_id")
        typing = payload.get("typing_indicator")
        if payload.get("messaging_product") != "whatsapp" or not _text(message_id):
            return _error(400, 100, "a read receipt needs messaging_product and message_id")
        if typing is not None and typing != {"type": "text"}:
            return _error(400, 131009, "typing_indicator.type must be 'text'")
        read = ReadRequest(str(message_id), typing is not None)
        with self._lock:
            self.reads.append(read)
        if self.listener is not None:
            self.listener(read)
        return JSONResponse({"success": True})

    def _message(self, payload: dict[str, Any], number: str) -> JSONResponse:
        refusal = refuse(payload)
        if refusal is not None:
            if self.listener is not None:
                self.listener(Refusal(_addressee(payload), payload, *refusal))
            return _error(400, *refusal)
        to = _addressee(payload)
        wamid = f"wamid.{uuid.uuid4().hex}"
        delivery = Delivery(wamid, to, payload, number)
        with self._lock:
            fault = self._recipients.get(to)
            if fault is None:
                self.deliveries.append(delivery)
        if fault is not None:
            return _error(fault.status, fault.code)
        if self.listener is not None:
            self.listener(delivery)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [_contact(to)],
                "messages": [{"id": wamid}],
            }
        )


class _RefusalError(Exception):
    """A request the fake answers with a Graph error."""

    def __init__(
        self,
        code: int | None,
        details: str | None = None,
        *,
        status: int = 400,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.status = status
        self.retry_after = retry_after


def _addressee(payload: Mapping[str, Any]) -> str:
    """Who a message is for: its ``to`` (a phone number) or ``recipient`` (a BSUID)."""
    return str(payload.get("to") or payload.get("recipient") or "")


def _contact(to: str) -> dict[str, str]:
    """The ``contacts`` entry of Meta's answer: a BSUID comes back as ``user_id``."""
    return {"input": to, "user_id": to} if is_user_id(to) else {"input": to, "wa_id": to}


def _require(condition: object, code: int, details: str) -> None:
    if not condition:
        raise _RefusalError(code, details)


def refuse(payload: Mapping[str, Any]) -> tuple[int, str] | None:
    """Why WhatsApp would refuse a ``/messages`` payload: ``(code, details)``, or ``None``."""
    try:
        _validate(payload)
    except _RefusalError as exc:
        return exc.code or 100, exc.details or ""
    return None


def _validate(payload: Mapping[str, Any]) -> None:
    _require(payload.get("messaging_product") == "whatsapp", 100, "messaging_product is wrong")
    _require(
        payload.get("recipient_type", "individual") == "individual",
        100,
        "recipient_type must be 'individual'",
    )
    to, recipient = payload.get("to"), payload.get("recipient")
    _require(_text(to) or _text(recipient), 100, "'to' or 'recipient' is required")
    _require(not (_text(to) and _text(recipient)), 100, "give 'to' or 'recipient', not both")
    if recipient is not None:
        _require(is_user_id(str(recipient)), 100, "'recipient' is not a business-scoped user id")
    kind = payload.get("type", "text")
    _require(kind in _KINDS, 100, f"the fake cannot send {kind!r} messages")
    content = _field(payload, kind, dict, 100)
    if kind == "text":
        _check_text(content.get("body"), limits.TEXT_LIMIT, "text.body")
        return
    if kind == "template":
        _validate_template(content)
        return
    if kind in limits.MEDIA_KINDS:
        _validate_media(kind, content)
        return
    body = _field(content, "body", dict, 100)
    is_list = content.get("type") == "list"
    _check_text(body.get("text"), limits.LIST_BODY_LIMIT if is_list else limits.BODY_LIMIT)
    header, footer = content.get("header"), content.get("footer")
    if header is not None:
        _require(isinstance(header, dict), 100, "header must be an object")
        _check_text(header.get("text"), limits.HEADER_LIMIT, "header.text")
    if footer is not None:
        _require(isinstance(footer, dict), 100, "footer must be an object")
        _check_text(footer.get("text"), limits.FOOTER_LIMIT, "footer.text")
    action = _field(content, "action", dict, 100)
    if content.get("type") == "location_request_message":
        _require(action == {"name": "send_location"}, 100, "action.name must be send_location")
    elif content.get("type") == "button":
        _validate_buttons(action)
    elif content.get("type") == "list":
        _validate_list(action)
    else:
        raise _RefusalError(100, "interactive.type must be button, list or a location request")


_KINDS = ("text", "interactive", "template", *limits.MEDIA_KINDS)


def _validate_media(kind: str, media: Mapping[str, Any]) -> None:
    """A media message: a link or an id, a caption only where one fits."""
    _require(_text(media.get("link")) != _text(media.get("id")), 100, "give 'link' or 'id'")
    caption = media.get("caption")
    if caption is not None:
        _require(kind in limits.CAPTIONED, 100, f"{kind} messages take no caption")
        _check_text(caption, limits.CAPTION_LIMIT, f"{kind}.caption")


def _validate_template(template: Mapping[str, Any]) -> None:
    """A template message: a name, a language code, components of known types."""
    _require(_text(template.get("name")), 132001, "template name does not exist")
    language = _field(template, "language", dict, 100)
    _require(_text(language.get("code")), 132001, "template language code is missing")
    for component in template.get("components", ()):
        _require(isinstance(component, dict), 131008, "a component is not an object")
        _require(component.get("type") in ("header", "body", "button"), 131009, "component type")
        for parameter in component.get("parameters", ()):
            _require(isinstance(parameter, dict), 131008, "a parameter is not an object")
            kind = parameter.get("type")
            _require(_text(parameter.get(kind)), 131008, f"parameter {kind!r} has no value")


def _validate_buttons(action: Mapping[str, Any]) -> None:
    buttons = _field(action, "buttons", list, 131009)
    _require(
        1 <= len(buttons) <= limits.MAX_BUTTONS,
        131009,
        f"a button message needs 1 to {limits.MAX_BUTTONS} buttons",
    )
    for button in buttons:
        _require(
            isinstance(button, dict) and button.get("type") == "reply",
            131009,
            "buttons must be of type 'reply'",
        )
    _check_items([button.get("reply") for button in buttons], "button")


def _validate_list(action: Mapping[str, Any]) -> None:
    _check_text(action.get("button"), limits.MENU_LABEL_LIMIT, "action.button")
    sections = _field(action, "sections", list, 131009)
    _require(sections, 131009, "a list needs a section")
    rows: list[Any] = []
    for section in sections:
        _require(
            isinstance(section, dict) and isinstance(section.get("rows"), list),
            131009,
            "every section needs rows",
        )
        if len(sections) > 1:
            _check_text(section.get("title"), limits.ROW_TITLE_LIMIT, "section title")
        rows += section["rows"]
    _require(
        1 <= len(rows) <= limits.MAX_ROWS,
        131009,
        f"a list needs 1 to {limits.MAX_ROWS} rows, got {len(rows)}",
    )
    _check_items(rows, "row")
    for row in rows:
        description = row.get("description", "")
        _require(
            isinstance(description, str) and utf16_length(description) <= limits.DESCRIPTION_LIMIT,
            131009,
            f"row descriptions allow {limits.DESCRIPTION_LIMIT} characters",
        )


def _field(obj: Mapping[str, Any], key: str, kind: type[_T], code: int) -> _T:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise _RefusalError(code, f"{key!r} must be a {kind.__name__}")
    return value


def _check_items(items: list[Any], kind: str) -> None:
    title_limit, id_limit = (
        (limits.BUTTON_TITLE_LIMIT, limits.BUTTON_ID_LIMIT)
        if kind == "button"
        else (limits.ROW_TITLE_LIMIT, limits.ROW_ID_LIMIT)
    )
    for item in items:
        _require(isinstance(item, dict), 100, f"every {kind} must be an object")
        _check_text(item.get("title"), title_limit, f"{kind} title")
        _check_text(item.get("id"), id_limit, f"{kind} id")
    titles = [str(item["title"]).casefold() for item in items]
    ids = [item["id"] for item in items]
    _require(len(set(titles)) == len(titles), 131009, f"{kind} titles must be unique")
    _require(len(set(ids)) == len(ids), 131009, f"{kind} ids must be unique")


def _check_text(value: object, limit: int, name: str = "body.text") -> None:
    _require(_text(value), 100, f"{name} is required")
    # The stricter reading of Meta's "characters": UTF-16 code units (an emoji counts 2).
    size = utf16_length(str(value))
    _require(size <= limit, 131009, f"{name} is {size} UTF-16 units long; the limit is {limit}")


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _error(
    status: int, code: int | None, details: str | None = None, *, retry_after: float | None = None
) -> JSONResponse:
    if code is None:
        code = 131000 if status >= 500 else 130429 if status == 429 else 100
    error: dict[str, Any] = {
        "message": f"({code}) {_MESSAGES.get(code, 'Error')}",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": f"A{uuid.uuid4().hex[:22]}",
    }
    details = details or _DETAILS.get(code)
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)

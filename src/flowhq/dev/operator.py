"""The operator page: people answer the conversations the bot handed over (docs/operator-page.md).

A JSON API under ``/api/inbox`` and one page (``static/inbox.*``), built only on the public
``Headquarters`` calls: ``paused_conversations``, ``transcript``, ``reply_as_agent``,
``pause`` and ``resume``. ``flowhq inbox`` serves it alone against a Redis; ``flowhq dev``
mounts the same routes on the console's own Headquarters (its "Inbox" tab). Every request
passes the console's :class:`~flowhq.dev.guard.Guard` first: the hosts it is served as, the
access token, same-origin JSON writes.

Who sends an agent's reply is the Headquarters' messenger. A page started without WhatsApp
credentials uses :class:`OutboxMessenger`: the reply is committed to the conversation's outbox
and marked stalled, and the bot's own workers send it (``redeliver``, or the conversation's
next message), exactly as a reply whose sending failed. Nothing is dropped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from flowhq.components.handoff import Handoff
from flowhq.dev.access import Access
from flowhq.dev.guard import Guard
from flowhq.errors import (
    ConflictError,
    DeliveryError,
    FlowError,
    InputError,
    StoreUnavailableError,
)
from flowhq.headquarters import Headquarters
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import OutboundMessage
from flowhq.runtime.delivery import WINDOW_CLOSED
from flowhq.runtime.records import Outcome, PausedConversation
from flowhq.statecharts.flow import Flow

__all__ = [
    "LEFT_FOR_WORKERS",
    "Inbox",
    "OutboxMessenger",
    "inbox_app",
    "resume_results",
]

STATIC = Path(__file__).parent / "static"

LEFT_FOR_WORKERS = "left in the outbox for the bot's workers"
"""The reason :class:`OutboxMessenger` gives: not a failure, a hand-over."""

RESUMED = "resumed"

Handler = Callable[[Request], Awaitable[Response]]


class OutboxMessenger:
    """Sends nothing: every reply stays in the outbox for the bot's own workers.

    For an operator page that has no channel credentials. ``Headquarters(messenger=None)``
    keeps no outbox at all (its replies are only returned), so an agent's reply would never
    reach the user. This messenger refuses each batch with a *temporary*
    :class:`~flowhq.errors.DeliveryError`: the entries stay in the outbox, marked stalled in
    the store, and any process of the bot sends them first, on its next ``redeliver()`` or
    the conversation's next message, once, in order, within the channel's window rules.
    """

    def __init__(self) -> None:
        _quiet_hand_overs()

    def __repr__(self) -> str:
        return "OutboxMessenger()"

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        """Leave ``messages`` to the bot's workers (always raises a temporary failure)."""
        raise DeliveryError(LEFT_FOR_WORKERS)


class _HandOverFilter(logging.Filter):
    """Drops the delivery warning for replies :class:`OutboxMessenger` left to the workers.

    They are not failures, and the warning names the conversation (a phone number).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(
            isinstance(arg, DeliveryError) and arg.reason == LEFT_FOR_WORKERS for arg in args
        )


def _quiet_hand_overs() -> None:
    delivery = logging.getLogger("flowhq.delivery")
    if not any(isinstance(f, _HandOverFilter) for f in delivery.filters):
        delivery.addFilter(_HandOverFilter())


def resume_results(flows: dict[str, type[Flow]], paused: PausedConversation) -> list[str]:
    """The results a resume of ``paused`` may give: its ``Handoff`` state's, else ``resumed``.

    The state is looked up in the conversation's flow (by ``PausedConversation.state``),
    then in the other flows (a flow nested in another keeps its own states).
    """
    if paused.state is None:
        return [RESUMED]
    ordered = [flows[paused.flow]] if paused.flow in flows else []
    ordered += [flow for flow in flows.values() if flow not in ordered]
    for flow in ordered:
        state = flow.states_map.get(paused.state)
        if isinstance(state, Handoff):
            return list(state.results)
    return [RESUMED]


def _epoch(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class Inbox:
    """The operator page's API over a Headquarters (see the module).

    Args:
        headquarters: Returns the Headquarters to use (the console swaps its own on reload).
        delivery: How replies leave: ``whatsapp`` (sent at once), ``outbox`` (left to the
            bot's workers, see :class:`OutboxMessenger`) or ``console`` (the simulator).
        notice: What the page says about that, once, at the top.
    """

    def __init__(
        self,
        headquarters: Callable[[], Headquarters],
        *,
        delivery: str,
        notice: str,
    ) -> None:
        self.headquarters = headquarters
        self.delivery = delivery
        self.notice = notice

    def routes(self) -> list[Route]:
        """The API routes, to mount at ``/api/inbox``."""
        guarded = _json_errors
        return [
            Route("/info", guarded(self.info)),
            Route("/paused", guarded(self.paused)),
            Route("/conversation", guarded(self.conversation)),
            Route("/reply", guarded(self.reply), methods=["POST"]),
            Route("/resume", guarded(self.resume), methods=["POST"]),
            Route("/pause", guarded(self.pause), methods=["POST"]),
        ]

    def now(self) -> float:
        """The Headquarters' time (the console's clock may run ahead of the wall clock)."""
        return self.headquarters().clock().timestamp()

    def describe(self, paused: PausedConversation) -> dict[str, Any]:
        """One paused conversation as the page shows it."""
        key = ConversationKey(paused.channel, paused.identifier)
        return {
            "key": str(key),
            "channel": paused.channel,
            "identifier": paused.identifier,
            "since": paused.since,
            "since_epoch": _epoch(paused.since),
            "reason": paused.reason,
            "state": paused.state,
            "flow": paused.flow,
            "last_inbound_at": paused.last_inbound_at,
            "waiting": paused.waiting,
            "results": resume_results(self.headquarters().flows, paused),
        }

    async def info(self, request: Request) -> Response:
        """How replies leave, and what the page should say about it."""
        return JSONResponse({"delivery": self.delivery, "notice": self.notice, "now": self.now()})

    async def paused(self, request: Request) -> Response:
        """The paused conversations, most recently paused first."""
        limit = _limit(request.query_params.get("limit", "100"))
        found = await self.headquarters().paused_conversations(limit=limit)
        return JSONResponse({"now": self.now(), "items": [self.describe(p) for p in found]})

    async def conversation(self, request: Request) -> Response:
        """One conversation's transcript (``?key=CHANNEL:IDENTIFIER``), oldest first.

        Whether it is paused, and how it may resume, the page reads from the paused list.
        """
        key = ConversationKey.parse(request.query_params.get("key", ""))
        hq = self.headquarters()
        transcript = await hq.transcript(key.channel, key.identifier)
        entries = [
            {
                "at": entry.at,
                "at_epoch": _epoch(entry.at),
                "direction": entry.direction,
                "text": entry.text,
                "kind": entry.kind,
                "agent": entry.agent,
            }
            for entry in transcript
        ]
        return JSONResponse({"key": str(key), "now": self.now(), "transcript": entries})

    async def reply(self, request: Request) -> Response:
        """Send ``{"key", "text", "agent"}`` as the agent (committed, then sent once)."""
        body = await _json_object(request)
        key = ConversationKey.parse(_text(body, "key"))
        agent = _optional_text(body, "agent")
        outcome = await self.headquarters().reply_as_agent(
            key.channel, key.identifier, _text(body, "text"), agent=agent
        )
        return JSONResponse(await self._done(outcome, key))

    async def resume(self, request: Request) -> Response:
        """Give ``{"key", "result"}`` back to the bot (``result`` default: ``resumed``)."""
        body = await _json_object(request)
        key = ConversationKey.parse(_text(body, "key"))
        result = _optional_text(body, "result") or RESUMED
        outcome = await self.headquarters().resume(key.channel, key.identifier, result)
        return JSONResponse(await self._done(outcome, key))

    async def pause(self, request: Request) -> Response:
        """Pause ``{"channel", "identifier", "reason"}`` wherever it stands."""
        body = await _json_object(request)
        channel, identifier = _text(body, "channel"), _text(body, "identifier")
        reason = _optional_text(body, "reason")
        outcome = await self.headquarters().pause(channel, identifier, reason=reason)
        key = ConversationKey(channel, identifier)
        shown = await self._done(outcome, key)
        shown["key"] = str(key)
        return JSONResponse(shown)

    async def _done(self, outcome: Outcome, key: ConversationKey) -> dict[str, Any]:
        """What a write did: its revision, whether the bot is paused, how replies left."""
        if not outcome.replies:
            sent = "nothing to send"
        elif self.delivery == "outbox":
            sent = "left to the bot's workers"
        elif outcome.delivered is False:
            sent = await self._not_sent(key)
        else:
            sent = "sent"
        return {
            "revision": outcome.revision,
            "paused": outcome.paused,
            "replies": [reply.text for reply in outcome.replies],
            "delivery": sent,
        }

    async def _not_sent(self, key: ConversationKey) -> str:
        """Why replies did not leave: the channel's window closed, or a failure (retried)."""
        hq = self.headquarters()
        window = getattr(hq.messenger, "service_window", None)
        if window is not None:
            last = _epoch(await hq.last_inbound(key.channel, key.identifier))
            if last is None or self.now() - last > float(window):
                return f"not sent: {WINDOW_CLOSED}"
        return "not sent yet: it stays in the outbox and is sent again"


def inbox_app(
    hq: Headquarters,
    *,
    access: Access = Access(),  # noqa: B008 - frozen: one shared default is safe
    delivery: str,
    notice: str,
) -> Starlette:
    """The operator page alone (``flowhq inbox``): ``/`` and ``/api/inbox/...``.

    Args:
        hq: The Headquarters whose conversations people answer (closed when the app stops).
        access: The hosts the page is served as and its access token (default: loopback
            only, no token).
        delivery: How replies leave (see :class:`Inbox`).
        notice: What the page says about that.
    """
    inbox = Inbox(lambda: hq, delivery=delivery, notice=notice)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "inbox.html")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hq.aclose()

    return Starlette(
        routes=[
            Route("/", index),
            Mount("/api/inbox", routes=inbox.routes()),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(Guard, access=access)],
        lifespan=lifespan,
    )


def _json_errors(handler: Handler) -> Handler:
    """``handler`` with its errors as JSON (the access checks ran before, in the Guard)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except (InputError, KeyError, ValueError) as exc:
            return JSONResponse({"error": f"invalid: {exc}"}, status_code=400)
        except ConflictError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except StoreUnavailableError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except FlowError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)

    return run


async def _json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    body: Any = await request.json() if await request.body() else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value.strip()


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ValueError("limit is a number from 1 to 1000")
    return int(text)

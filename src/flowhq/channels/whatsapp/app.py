"""``webhook_app``: the ASGI app WhatsApp calls, acknowledging fast and losing nothing.

``GET /webhook`` answers Meta's verification handshake. ``POST /webhook`` checks the
``X-Hub-Signature-256`` signature of the raw body, parses the updates, records the messages
on the update queue and answers 200 — before any flow runs. Workers started with the app
(its lifespan) take the messages from the queue, mark each read (with the typing indicator)
and hand it to ``Headquarters.handle``; replies leave through the messenger after the commit,
as everywhere in flowhq. A periodic ``redeliver()`` sends replies a crash left in an outbox.

Meta retries a failed delivery for days, expects a quick answer, and may deliver an update
twice or concurrently: a 200 goes out only once the updates are recorded (503 otherwise, so
Meta retries), and duplicates are dropped by the conversation's message-id deduplication.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

import attrs
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from flowhq.channels.whatsapp._message import CHANNEL
from flowhq.channels.whatsapp.identity import Identities
from flowhq.channels.whatsapp.inbound import Status, parse_webhook
from flowhq.channels.whatsapp.messenger import WhatsAppMessenger, entry_of
from flowhq.channels.whatsapp.signature import SIGNATURE_HEADER, verify_signature
from flowhq.errors import ChannelError, StoreUnavailableError
from flowhq.headquarters import Headquarters
from flowhq.inbox import MemoryQueue, RedisStreamQueue, UpdateQueue
from flowhq.inbox.lanes import Handler as UpdateHandler
from flowhq.inbox.outage import OutageLog
from flowhq.inbox.workers import (
    EventCallback,
    call_back,
    redeliver_periodically,
    report_depth,
    report_paused,
    update_handler,
)
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage
from flowhq.observability import PrometheusMetrics, tracing
from flowhq.persistence.integrity import MAX_FAILURE_REASON
from flowhq.persistence.redis import RedisStore
from flowhq.persistence.store import Store
from flowhq.runtime.delivery import Undeliverable

__all__ = ["NOT_FOR_FLOWS", "StatusCallback", "webhook_app"]

logger = logging.getLogger("flowhq.channels.whatsapp")

StatusCallback = Callable[[Status], "Awaitable[None] | None"]
"""Called with each delivery status (sent, delivered, read, played, failed)."""

NOT_FOR_FLOWS = frozenset({"reaction", "system", "edit", "revoke", "call_permission", "group"})
"""Update kinds that are not a user's answer: a reaction to a message, a changed number, an
edit or a deletion of a message the flow already took, an answer to a call permission
request, a message in a group chat. They go to ``on_event``; a flow never asks "please
answer with text" about them, and never answers a group in private."""

MAX_BODY = 4 * 1024 * 1024
"""Default limit of a delivery: Meta batches up to 1,000 updates, well under 4 MiB."""


def webhook_app(
    hq: Headquarters,
    *,
    app_secret: str,
    verify_token: str,
    queue: UpdateQueue | None = None,
    path: str = "/webhook",
    workers: bool = True,
    timers: bool = True,
    on_status: StatusCallback | None = None,
    on_event: EventCallback | None = None,
    redeliver_every: float | None = 30.0,
    max_body: int = MAX_BODY,
    close_headquarters: bool = True,
    metrics: bool | PrometheusMetrics = False,
    metrics_token: str | None = None,
    on_undeliverable: Undeliverable | None = None,
) -> Starlette:
    """Build the ASGI app serving WhatsApp's webhook for ``hq``.

    Args:
        hq: The Headquarters whose flows answer (with a ``WhatsAppMessenger``).
        app_secret: The Meta app secret that signs deliveries.
        verify_token: The token you entered in Meta's webhook settings.
        queue: Where updates wait between the 200 and the flow (default: a
            ``RedisStreamQueue`` with a ``RedisStore``, else a ``MemoryQueue``).
        path: Where the webhook is served.
        workers: Handle queued updates in this process (off: it only receives).
        timers: Run ``hq.run_timers()`` in this process (off where something else fires
            timers, as the dev console does on its own clock).
        on_status: Called with each delivery status; a ``failed`` one is also logged at
            WARNING with Meta's code.
        on_event: Called with reactions and system notices, which are not flow input.
        redeliver_every: Seconds between ``redeliver()`` runs (``None``: never).
        max_body: Largest delivery accepted, in bytes; a bigger one is refused with 413
            before it is read whole (the signature can only be checked on the whole body).
        close_headquarters: Close ``hq`` (its store, messenger and API client) when the
            app shuts down; off when the caller keeps using them (the console's reloads).
        metrics: Serve Prometheus metrics at ``/metrics`` (extra ``[metrics]``): ``True``
            uses the ``PrometheusMetrics`` among ``hq.observers`` or attaches a new one;
            or pass your own. See docs/operations.md.
        metrics_token: Answer ``/metrics`` only to ``Authorization: Bearer <token>``.
        on_undeliverable: Told about replies that cannot be sent at all (outside the 24-hour
            window, a 131047): ``(key, messages, reason)``, sync or async. Sets
            ``hq.on_undeliverable`` (the same hook as ``Headquarters(on_undeliverable=)``).

    Returns:
        A Starlette app for uvicorn or gunicorn (``--workers N`` shares the queue); its
        lifespan runs the workers, timers and redelivery (docs/whatsapp.md).

    Raises:
        ValueError: an empty app secret or verify token.
    """
    if not app_secret or not verify_token:
        raise ValueError("webhook_app needs the app secret and the verify token")
    if on_undeliverable is not None:
        hq.on_undeliverable = on_undeliverable
    updates, outage = _queue(hq, queue)
    handle = update_handler(hq, not_for_flows=NOT_FOR_FLOWS, on_event=on_event, outage=outage)
    handle = _resolving(hq, handle, outage)
    loops = _Background(hq, updates, handle if workers else None, timers, redeliver_every, outage)
    receive = _receiver(updates, app_secret, max_body, outage, on_status=on_status, hq=hq)
    routes = [
        Route(path, _handshake(verify_token), methods=["GET"]),
        Route(path, _spanned("whatsapp.receive", receive), methods=["POST"]),
        *_metrics_routes(hq, updates, metrics, metrics_token),
    ]
    app = Starlette(routes=routes, lifespan=loops.lifespan(close=close_headquarters))
    app.state.queue = updates
    app.state.headquarters = hq
    return app


Endpoint = Callable[[Request], Awaitable[Response]]


def _identities(hq: Headquarters) -> Identities:
    """The identity mapping on ``hq``'s store; its WhatsApp messenger addresses by it."""
    identities = Identities(hq.store)
    if isinstance(hq.messenger, WhatsAppMessenger) and hq.messenger.identities is None:
        hq.messenger.identities = identities
    return identities


def _resolving(hq: Headquarters, handle: UpdateHandler, outage: OutageLog) -> UpdateHandler:
    """``handle`` each update in its person's conversation (phone number or BSUID)."""
    identities = _identities(hq)
    messenger = hq.messenger if isinstance(hq.messenger, WhatsAppMessenger) else None

    async def resolve_then_handle(message: InboundMessage) -> bool:
        try:
            message = await identities.resolve(message)
        except StoreUnavailableError as exc:
            outage.failed(exc, "updates kept for later")
            return False
        if messenger is not None:
            messenger.received(message)
        if message.kind == "edit":  # the flow took the original; an edit is not new input
            logger.info("WhatsApp: a user edited message %s; not new input", message.message_id)
        return await handle(message)

    return resolve_then_handle


def _served(hq: Headquarters) -> Callable[[Sequence[InboundMessage]], list[InboundMessage]]:
    """Keep the messages to business numbers ``hq``'s messenger sends from."""
    messenger = hq.messenger
    if not isinstance(messenger, WhatsAppMessenger):
        return list

    def served(messages: Sequence[InboundMessage]) -> list[InboundMessage]:
        kept = [m for m in messages if messenger.serves(m.data.get("phone_number_id"))]
        if len(kept) < len(messages):
            refused = {str(m.data.get("phone_number_id")) for m in messages if m not in kept}
            logger.warning(
                "WhatsApp webhook: %d updates to numbers this app does not serve (%s) refused",
                len(messages) - len(kept),
                ", ".join(sorted(refused)),
            )
        return kept

    return served


def _handshake(verify_token: str) -> Endpoint:
    """``GET``: answer Meta's verification handshake with the challenge."""

    async def handshake(request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token", "")
        if params.get("hub.mode") == "subscribe" and hmac.compare_digest(token, verify_token):
            return PlainTextResponse(params.get("hub.challenge", ""))
        return PlainTextResponse("verification failed", status_code=403)

    return handshake


def _receiver(
    updates: UpdateQueue,
    app_secret: str,
    max_body: int,
    outage: OutageLog,
    *,
    on_status: StatusCallback | None,
    hq: Headquarters,
) -> Endpoint:
    """``POST``: check, parse and record a delivery; statuses after the 200.

    Messages to a business number ``hq`` does not send from are refused (a WARNING).
    """
    served, store = _served(hq), hq.store

    async def receive(request: Request) -> Response:
        body = await _signed_body(request, app_secret, max_body)
        if isinstance(body, Response):
            return body
        try:
            batch = parse_webhook(body)
        except ChannelError as exc:  # the sender's mistake, not ours: no traceback
            logger.warning("WhatsApp webhook: malformed delivery refused: %s", exc)
            return PlainTextResponse(str(exc), status_code=400)
        refused = await _record(updates, _traced(served(batch.messages)), outage)
        if refused is not None:
            return refused
        statuses = batch.statuses
        task = BackgroundTask(_statuses, statuses, on_status, store) if statuses else None
        return PlainTextResponse("ok", background=task)

    return receive


@attrs.define
class _Background:
    """What runs beside the routes while the app lives: workers, timers, redelivery."""

    hq: Headquarters
    updates: UpdateQueue
    handle: UpdateHandler | None
    timers: bool
    redeliver_every: float | None
    outage: OutageLog

    def start(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """Start the loops this app runs; each ends once ``stop`` is set."""
        tasks = []
        if self.handle is not None:
            loop = self.updates.run(self.handle, stop)
            tasks.append(asyncio.create_task(loop, name="flowhq-workers"))
        if self.timers:
            tasks.append(asyncio.create_task(self.hq.run_timers(stop), name="flowhq-timers"))
        if self.redeliver_every:
            loop = redeliver_periodically(self.hq, self.redeliver_every, stop, outage=self.outage)
            tasks.append(asyncio.create_task(loop, name="flowhq-redeliver"))
        return tasks

    def lifespan(self, *, close: bool) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
        """The app's lifespan: the loops run while it serves; ``close`` closes ``hq`` after."""

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            stop = asyncio.Event()
            tasks = self.start(stop)
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self.updates.close()
                if close:
                    await self.hq.aclose()

        return lifespan


async def _signed_body(request: Request, app_secret: str, max_body: int) -> bytes | Response:
    """The body of a delivery signed with ``app_secret``, or the response refusing it."""
    header = request.headers.get(SIGNATURE_HEADER)
    if header is None:
        return PlainTextResponse("missing signature", status_code=401)
    try:
        body = await _read_at_most(request, max_body)
    except ClientDisconnect:  # the sender's connection broke: nothing to answer
        logger.info("WhatsApp webhook: the client went away before the body was whole")
        return PlainTextResponse("incomplete body", status_code=400)
    if body is None:
        logger.warning("WhatsApp webhook: a delivery over %d bytes was refused", max_body)
        return PlainTextResponse("delivery too large", status_code=413)
    if not verify_signature(body, header, app_secret):
        logger.warning("WhatsApp webhook: a delivery with a wrong signature was refused")
        return PlainTextResponse("bad signature", status_code=403)
    return body


async def _record(
    updates: UpdateQueue, messages: Sequence[InboundMessage], outage: OutageLog
) -> Response | None:
    """Record ``messages``; ``None`` once they are, else the 503 that makes Meta retry."""
    try:
        await updates.put(messages)
    except StoreUnavailableError as exc:  # counted, not logged once per delivery
        outage.failed(exc, "deliveries answered 503")
    except Exception:
        logger.exception("WhatsApp webhook: could not record %d updates", len(messages))
    else:
        outage.recovered()
        return None
    return PlainTextResponse("try again", status_code=503)


async def _read_at_most(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it is over ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _queue(hq: Headquarters, queue: UpdateQueue | None) -> tuple[UpdateQueue, OutageLog]:
    """The update queue (``queue``, or the default for ``hq``'s store) and its outage log.

    One log of Redis outages serves the POSTs, the workers and the queue: a line as it
    starts, one as it ends, not one per refused delivery or retried update.
    """
    if queue is None:
        store = hq.store
        if isinstance(store, RedisStore):
            queue = RedisStreamQueue(store.client, keys=store.keys)
        else:
            queue = MemoryQueue()
    outage = queue.outage if isinstance(queue, RedisStreamQueue) else OutageLog()
    return queue, outage


async def _statuses(
    statuses: Sequence[Status], on_status: StatusCallback | None, store: Store
) -> None:
    for status in statuses:
        if status.status == "failed":
            await _failed(status, store)
        if on_status is not None:
            try:
                await call_back(on_status, status)
            except Exception:
                logger.exception("on_status failed for %s", status.message_id)


async def _failed(status: Status, store: Store) -> None:
    """Log a failed status and record it on the outbox entry it names (callback data)."""
    codes = ", ".join(f"{e.code}: {e.title}" for e in status.errors) or "no code"
    logger.warning("WhatsApp could not deliver %s (%s)", status.message_id, codes)
    entry = entry_of(status.callback_data)
    if entry is None:
        return
    identifier, revision, seq = entry
    reason = f"{status.errors[0].code if status.errors else '?'}: failed status of entry {seq}"
    reason = f"{reason} ({codes})"[:MAX_FAILURE_REASON]
    key = ConversationKey(CHANNEL, identifier)
    try:
        await store.mark_delivered(key, (), failures={revision: reason})
    except StoreUnavailableError as exc:
        logger.warning("the failed status of %s is not recorded: %s", status.message_id, exc)


def _spanned(
    name: str, endpoint: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """``endpoint`` as a span named ``name`` (when OpenTelemetry traces), with its status."""

    async def spanned(request: Request) -> Response:
        with tracing.span(name) as span:
            response = await endpoint(request)
            tracing.set_attributes(span, {"http.response.status_code": response.status_code})
            return response

    return spanned


def _traced(messages: Sequence[InboundMessage]) -> Sequence[InboundMessage]:
    """``messages`` carrying the current trace, for the worker's spans to join it."""
    parent = tracing.traceparent()
    if parent is None:
        return messages
    return [attrs.evolve(message, traceparent=parent) for message in messages]


def _metrics_routes(
    hq: Headquarters, updates: UpdateQueue, metrics: bool | PrometheusMetrics, token: str | None
) -> list[Route]:
    """The ``/metrics`` route, when asked for: the queue's depth is sampled per scrape."""
    if metrics is False:
        return []
    if metrics is True:
        found = [o for o in hq.observers if isinstance(o, PrometheusMetrics)]
        metrics = found[0] if found else PrometheusMetrics()
    exporter = metrics.attach(hq)
    expected = f"Bearer {token}" if token else None

    async def scrape(request: Request) -> Response:
        given = request.headers.get("authorization", "")
        if expected is not None and not hmac.compare_digest(given.encode(), expected.encode()):
            return PlainTextResponse("unauthorized", status_code=401)
        await report_depth(updates, hq.observers)
        await report_paused(hq, hq.observers)
        body, content_type = exporter.render(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    return [Route("/metrics", scrape, methods=["GET"])]

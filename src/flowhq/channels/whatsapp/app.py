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

import attrs
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from flowhq.channels.whatsapp.inbound import Status, parse_webhook
from flowhq.channels.whatsapp.signature import SIGNATURE_HEADER, verify_signature
from flowhq.errors import ChannelError, StoreUnavailableError
from flowhq.headquarters import Headquarters
from flowhq.inbox import MemoryQueue, RedisStreamQueue, UpdateQueue
from flowhq.inbox.outage import OutageLog
from flowhq.inbox.workers import (
    EventCallback,
    call_back,
    redeliver_periodically,
    report_depth,
    update_handler,
)
from flowhq.messaging.types import InboundMessage
from flowhq.observability import PrometheusMetrics, tracing
from flowhq.persistence.redis import RedisStore

__all__ = ["NOT_FOR_FLOWS", "StatusCallback", "webhook_app"]

logger = logging.getLogger("flowhq.channels.whatsapp")

StatusCallback = Callable[[Status], "Awaitable[None] | None"]
"""Called with each delivery status (sent, delivered, read, played, failed)."""

NOT_FOR_FLOWS = frozenset({"reaction", "system"})
"""Update kinds that are not a user's answer: a reaction to a message, a changed number."""

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
    on_status: StatusCallback | None = None,
    on_event: EventCallback | None = None,
    redeliver_every: float | None = 30.0,
    max_body: int = MAX_BODY,
    close_headquarters: bool = True,
    metrics: bool | PrometheusMetrics = False,
    metrics_token: str | None = None,
) -> Starlette:
    """Build the ASGI app serving WhatsApp's webhook for ``hq``.

    Args:
        hq: The Headquarters whose flows answer (its messenger should be a
            ``WhatsAppMessenger``).
        app_secret: The Meta app secret that signs deliveries.
        verify_token: The token you entered in Meta's webhook settings.
        queue: Where updates wait between the 200 and the flow. Default: a
            ``RedisStreamQueue`` on the store's Redis with a ``RedisStore``, else a
            ``MemoryQueue``.
        path: Where the webhook is served.
        workers: Handle queued updates in this process (turn off for a process that only
            receives).
        on_status: Called with each delivery status; a ``failed`` one is also logged at
            WARNING with Meta's code.
        on_event: Called with reactions and system notices, which are not flow input.
        redeliver_every: Seconds between ``redeliver()`` runs (``None``: never).
        max_body: Largest delivery accepted, in bytes; a bigger one is refused with 413
            before it is read whole (the signature can only be checked on the whole body).
        close_headquarters: Close ``hq`` when the app shuts down; turn off when the caller
            owns it and keeps using its store or API client (the dev console's reloads).
        metrics: Serve Prometheus metrics at ``/metrics`` (extra ``[metrics]``): ``True``
            uses the ``PrometheusMetrics`` among ``hq.observers`` or attaches a new one;
            or pass your own. See docs/operations.md.
        metrics_token: Answer ``/metrics`` only to ``Authorization: Bearer <token>``.

    Returns:
        A Starlette app; run it with uvicorn or gunicorn (``--workers N`` shares the queue).
        When it shuts down it stops its workers and, unless ``close_headquarters`` is off,
        closes the Headquarters (its store, messenger and API client).

    Raises:
        ValueError: an empty app secret or verify token.
    """
    if not app_secret or not verify_token:
        raise ValueError("webhook_app needs the app secret and the verify token")
    updates = queue or _default_queue(hq)
    # One log of Redis outages for the POSTs, the workers and the queue: a line as it
    # starts, one as it ends, not one per refused delivery or retried update.
    outage = updates.outage if isinstance(updates, RedisStreamQueue) else OutageLog()
    handle = update_handler(hq, not_for_flows=NOT_FOR_FLOWS, on_event=on_event, outage=outage)

    async def handshake(request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token", "")
        if params.get("hub.mode") == "subscribe" and hmac.compare_digest(token, verify_token):
            return PlainTextResponse(params.get("hub.challenge", ""))
        return PlainTextResponse("verification failed", status_code=403)

    async def receive(request: Request) -> Response:
        body = await _signed_body(request, app_secret, max_body)
        if isinstance(body, Response):
            return body
        try:
            batch = parse_webhook(body)
        except ChannelError as exc:  # the sender's mistake, not ours: no traceback
            logger.warning("WhatsApp webhook: malformed delivery refused: %s", exc)
            return PlainTextResponse(str(exc), status_code=400)
        refused = await _record(updates, _traced(batch.messages), outage)
        if refused is not None:
            return refused
        task = BackgroundTask(_statuses, batch.statuses, on_status) if batch.statuses else None
        return PlainTextResponse("ok", background=task)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = []
        if workers:
            tasks.append(asyncio.create_task(updates.run(handle, stop), name="flowhq-workers"))
        if redeliver_every:
            tasks.append(
                asyncio.create_task(
                    redeliver_periodically(hq, redeliver_every, stop, outage=outage),
                    name="flowhq-redeliver",
                )
            )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await updates.close()
            if close_headquarters:
                await hq.aclose()

    app = Starlette(
        routes=[
            Route(path, handshake, methods=["GET"]),
            Route(path, _spanned("whatsapp.receive", receive), methods=["POST"]),
            *_metrics_routes(hq, updates, metrics, metrics_token),
        ],
        lifespan=lifespan,
    )
    app.state.queue = updates
    app.state.headquarters = hq
    return app


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
        body, content_type = exporter.render(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    return [Route("/metrics", scrape, methods=["GET"])]


def _default_queue(hq: Headquarters) -> UpdateQueue:
    store = hq.store
    if isinstance(store, RedisStore):
        return RedisStreamQueue(store.client, keys=store.keys)
    return MemoryQueue()


async def _statuses(statuses: Sequence[Status], on_status: StatusCallback | None) -> None:
    for status in statuses:
        if status.status == "failed":
            codes = ", ".join(f"{e.code}: {e.title}" for e in status.errors) or "no code"
            logger.warning(
                "WhatsApp could not deliver %s to %s (%s)",
                status.message_id,
                status.recipient,
                codes,
            )
        if on_status is not None:
            try:
                await call_back(on_status, status)
            except Exception:
                logger.exception("on_status failed for %s", status.message_id)

"""The floor of the webhook path, run like ``benchmarks/webhook_app.py`` under uvicorn.

The least a webhook bot on the same libraries can do per message, with nothing flowhq adds:
Starlette receives the POST, checks the HMAC, parses it with orjson and XADDs each message
to one Redis Stream, and answers 200; a consumer task XREADGROUPs entries, GETs the
conversation, writes it back with a Lua compare-and-set on the revision (the floor of
``benchmarks/floor.py``), POSTs one reply with httpx to the in-process ``FakeGraphApi``
the flowhq benchmark app uses too, and XACKs. Messages of one conversation are handled in
order, conversations at once.
No read receipt, no retries, no deduplication, no outbox, no identity, no timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from redis import asyncio as aioredis
from redis.exceptions import ResponseError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from benchmarks.floor import CAS
from flowhq.testing.whatsapp import FakeGraphApi

SECRET = b"bench-secret"
STREAM, GROUP = "floor:updates", "floor"

redis = aioredis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
cas = redis.register_script(CAS)


async def receive(request: Request) -> Response:
    body = await request.body()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
        return PlainTextResponse("bad signature", status_code=403)
    payload = orjson.loads(body)
    pipe = redis.pipeline(transaction=False)
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", ()):
                fields = {"u": message["from"], "t": message["text"]["body"]}
                pipe.xadd(STREAM, fields)  # type: ignore[arg-type]
    await pipe.execute()
    return PlainTextResponse("ok")


async def handshake(request: Request) -> Response:
    return PlainTextResponse("")


# The same in-process Graph API stand-in as benchmarks/webhook_app.py, so both pay the same
# for the reply's POST.
graph = httpx.AsyncClient(
    transport=httpx.ASGITransport(app=FakeGraphApi(access_token="t", phone_number_id="1")),
    base_url="http://graph.local",
)


async def handle(user: bytes, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
    key = b"floor:" + user
    for entry_id, fields in entries:
        raw = await redis.get(key)
        revision, document = 0, {"n": 0}
        if raw is not None:
            head, _, body = raw.partition(b":")
            revision, document = int(head), orjson.loads(body)
        document["n"] += 1
        document["last"] = fields[b"t"].decode()
        value = b"%d:" % (revision + 1) + orjson.dumps(document)
        await cas(keys=[key], args=[revision, value])
        reply: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "to": user.decode(),
            "type": "text",
            "text": {"body": "Say something"},
        }
        await graph.post("/v25.0/1/messages", json=reply, headers={"Authorization": "Bearer t"})
        await redis.xack(STREAM, GROUP, entry_id)


async def consume(stop: asyncio.Event) -> None:
    with contextlib.suppress(ResponseError):
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    consumer = f"c{os.getpid()}"
    while not stop.is_set():
        batches = await redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=200, block=100)
        for _, entries in batches or ():
            by_user: defaultdict[bytes, list[tuple[bytes, dict[bytes, bytes]]]] = defaultdict(list)
            for entry_id, fields in entries:
                by_user[fields[b"u"]].append((entry_id, fields))
            await asyncio.gather(*(handle(user, mine) for user, mine in by_user.items()))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consume(stop))
    try:
        yield
    finally:
        stop.set()
        await task


app = Starlette(
    routes=[
        Route("/webhook", handshake, methods=["GET"]),
        Route("/webhook", receive, methods=["POST"]),
    ],
    lifespan=lifespan,
)

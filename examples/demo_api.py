"""A small demo API (an ASGI app) for the example flows.

``flowhq chat --asgi examples.demo_api:app`` wires it in-process through httpx's ASGI
transport; the tests also serve it with uvicorn on loopback. It honours ``Idempotency-Key``:
a repeated key gets the first answer again and creates nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ORDERS = {
    "A100": {"id": "A100", "status": "shipped", "eta": "tomorrow"},
    "A200": {"id": "A200", "status": "processing", "eta": "in 3 days"},
}


class DemoApi:
    """Users, orders and pizza orders, kept in memory.

    ``POST /users``, ``GET /orders/{id}`` and ``POST /pizza-orders``.
    """

    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = []
        self.pizzas: list[dict[str, Any]] = []
        self.seen: dict[str, tuple[int, Any]] = {}
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI HTTP request."""
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode()
        self.requests.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "raw_path": raw_path,
                "headers": headers,
            }
        )
        key = headers.get("idempotency-key")
        if key is not None and key in self.seen:
            status, payload = self.seen[key]
        else:
            status, payload = self.route(scope["method"], scope["path"], body)
            if key is not None:
                self.seen[key] = (status, payload)
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:  # noqa: PLR0911
        """Answer one request: ``(status, JSON payload)``."""
        if method == "POST" and path == "/users":
            try:
                user = json.loads(body)
            except ValueError:
                return 400, {"error": "invalid JSON"}
            if not isinstance(user, dict) or not user.get("email"):
                return 422, {"error": "email is required"}
            user = {"id": len(self.users) + 1, **user}
            self.users.append(user)
            return 201, user
        if method == "POST" and path == "/pizza-orders":
            try:
                order = json.loads(body)
            except ValueError:
                return 400, {"error": "invalid JSON"}
            if not isinstance(order, dict) or not order.get("pizza"):
                return 422, {"error": "pizza is required"}
            order = {"id": f"P{len(self.pizzas) + 1:03d}", "minutes": 30, **order}
            self.pizzas.append(order)
            return 201, order
        if method == "GET" and path.startswith("/orders/"):
            order = ORDERS.get(path.removeprefix("/orders/").upper())
            return (200, order) if order else (404, {"error": "no such order"})
        return 404, {"error": "not found"}


app = DemoApi()
"""The app instance ``--asgi examples.demo_api:app`` loads."""

"""Who may use the console: the hosts it answers as, the access token, same-origin writes.

The console runs flows and their API calls for whoever reaches it. On a network that is
anyone who can connect; on ``127.0.0.1`` it is still any web page the developer opens: a
cross-site form can post to it, and a name whose DNS answer flips to ``127.0.0.1`` (DNS
rebinding) makes the console same-origin with the attacker's page. So before any route runs,
:class:`Guard` refuses:

- a ``Host`` the console is not served as (the rebound name): 400;
- a request without the access token, when there is one: 401;
- a write (``POST``, ``PUT``, ``PATCH``, ``DELETE``) or an API read that the browser marks as
  coming from another site (``Sec-Fetch-Site``) or from another origin (``Origin``): 403;
- a write that is not JSON: 415. A form or a cross-site "simple" request (``text/plain``)
  cannot declare ``application/json``; a script can only with a CORS preflight, which the
  console never grants.

Every answer also forbids framing (clickjacking the Reset button) and the ``Referer`` header
(the page's address may carry the token). See docs/dev-console.md ("Safe on a network").
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowhq.dev.access import Access

__all__ = ["Guard"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWN_SITE = frozenset({"same-origin", "none"})  # "none": the user typed or bookmarked the address
DEFAULT_PORTS = {"http": ":80", "https": ":443"}
SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


class Guard:
    """ASGI middleware applying an :class:`Access` to every HTTP request (see the module).

    Args:
        app: The console's app.
        access: Who it answers.
    """

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, or pass it on with the security headers added."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        connection = HTTPConnection(scope)
        refusal = self.refusal(connection)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    def refusal(self, connection: HTTPConnection) -> Response | None:
        """The answer refusing this request, or ``None`` when it may go on."""
        api = connection.url.path.startswith("/api/")
        answer = JSONResponse if api else _plain
        host = connection.headers.get("host", "")
        if not self.access.allows_host(host):
            return answer({"error": f"this console is not served as {host!r}"}, 400)
        if connection.url.path.startswith("/static/"):
            return None  # the page's own code and style: nothing secret, no token in <script>
        given = connection.headers.get("authorization", "")
        if not self.access.admits(given, connection.query_params.get("token", "")):
            return answer({"error": "access token required: open the address printed"}, 401)
        write = connection.scope["method"] not in SAFE_METHODS
        if (write or api) and not _same_origin(connection, host):
            return answer({"error": "cross-site request refused"}, 403)
        if write and not _is_json(connection):
            return answer({"error": "send Content-Type: application/json"}, 415)
        return None


def _plain(content: dict[str, str], status_code: int) -> Response:
    return PlainTextResponse(content["error"], status_code)


def _same_origin(connection: HTTPConnection, host: str) -> bool:
    """Whether the browser says the request comes from the console's own page.

    A request without ``Sec-Fetch-Site`` and ``Origin`` does not come from a web page (curl,
    a script): only browsers send requests a page did not mean its user to send.
    """
    site = connection.headers.get("sec-fetch-site")
    if site is not None and site not in OWN_SITE:
        return False
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)  # "null" (a sandboxed frame, a file) has no netloc: refused
    default = DEFAULT_PORTS.get(parts.scheme, "")
    own = host.strip().lower().removesuffix(default)
    return bool(parts.netloc) and parts.netloc.lower().removesuffix(default) == own


def _is_json(connection: HTTPConnection) -> bool:
    media_type = connection.headers.get("content-type", "").partition(";")[0]
    return media_type.strip().lower() == "application/json"

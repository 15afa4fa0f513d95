"""The HTTP client behind ``StateManager.make_api_request``: retries, backoff, no leaked token.

``StateManager`` decides who may call and what headers go (the bearer token, the idempotency
key); this module performs the request through the ``Headquarters``' httpx client
(docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from flowhq.components.api_call import ApiCall
from flowhq.errors import FlowDefinitionError, FlowError
from flowhq.observability import tracing
from flowhq.runtime.settings import ApiOptions
from flowhq.state.secrets import redact
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.model import all_states

__all__ = ["ApiClient", "check_api_client"]

# Failures worth another attempt: the server may have done the work and answered late, or
# never got the request. A protocol error on our side (a bad header) would fail again.
_RETRIED = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class ApiClient:
    """Sends API requests with bounded retries (an ``ApiRequester`` for ``StateManager``).

    Args:
        options: The client, per-attempt timeout, retries and backoff.
    """

    def __init__(self, options: ApiOptions) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"ApiClient(retries={self.options.retries}, timeout={self.options.timeout})"

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        timeout: float | None,  # noqa: ASYNC109 - the HTTP timeout of each attempt
        secret: str | None,
    ) -> httpx.Response:
        """Send one request; retry timeouts, connection errors and 5xx answers.

        Args:
            method: HTTP method.
            url: URL, or a path relative to the client's ``base_url``.
            json: JSON body.
            params: Query parameters.
            headers: Headers to send (the same on every attempt).
            timeout: Seconds per attempt (default: the options', else the client's).
            secret: A value to keep out of error messages (the auth token).

        Returns:
            The response (a 5xx one when every attempt got one).

        Raises:
            FlowError: there is no API client.
            httpx.TimeoutException: the last attempt timed out.
            httpx.TransportError: the last attempt could not connect; the message never
                contains ``secret``.
        """
        options = self.options
        client = options.client
        if client is None:
            raise FlowError("no API client: pass Headquarters(api=httpx.AsyncClient(...))")
        per_attempt: Any = options.timeout if timeout is None else timeout
        if per_attempt is None:
            per_attempt = httpx.USE_CLIENT_DEFAULT
        for attempt in range(options.retries + 1):
            last = attempt == options.retries
            try:
                response = await _traced(
                    client,
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=per_attempt,
                )
            except _RETRIED as exc:
                if last:
                    raise _sanitized(exc, secret) from None
            except httpx.HTTPError as exc:
                raise _sanitized(exc, secret) from None
            else:
                if response.status_code < 500 or last:
                    return response
            await asyncio.sleep(options.backoff * 2**attempt * random.uniform(0.5, 1.0))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the httpx client, if any."""
        if self.options.client is not None:
            await self.options.client.aclose()


async def _traced(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One attempt, as a ``flowhq.api`` span whose ``traceparent`` goes to the backend.

    The span carries the method and the status, not the URL (it may hold an identifier).
    """
    if not tracing.active():
        return await client.request(method, url, **kwargs)
    with tracing.span("flowhq.api", {"http.request.method": method}) as span:
        kwargs["headers"] = tracing.inject(kwargs["headers"])
        response = await client.request(method, url, **kwargs)
        tracing.set_attributes(span, {"http.response.status_code": response.status_code})
        return response


def _sanitized(exc: httpx.HTTPError, secret: str | None) -> httpx.HTTPError:
    """The same kind of error with the secret removed from its message (and no chain)."""
    message = redact(str(exc), secret)
    if isinstance(exc, httpx.RequestError):
        return type(exc)(message)
    return httpx.HTTPError(message)


def check_api_client(flows: Sequence[type[Flow]], client: httpx.AsyncClient | None) -> None:
    """Refuse flows with an ``ApiCall`` when there is no client to call with.

    Raises:
        FlowDefinitionError: naming the states that need one.
    """
    if client is not None:
        return
    calls = [
        f"{flow_cls.__name__}.{state.id}"
        for flow_cls in flows
        for state in all_states(flow_cls)
        if isinstance(state, ApiCall)
    ]
    if calls:
        raise FlowDefinitionError(
            "Headquarters",
            [
                f"ApiCall states {', '.join(calls)} need an API client: pass "
                "Headquarters(api=httpx.AsyncClient(base_url=...))"
            ],
        )

"""``ApiCall``: call an HTTP API through the Headquarters' httpx client."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from flowhq.errors import FlowError
from flowhq.state.manager import Role, StateManager
from flowhq.statecharts.templates import Template, TemplateError, fill_json, json_fields

from ._user_code import call_user_function
from .base import Component

__all__ = ["ApiCall", "ResponseHandler"]

logger = logging.getLogger("flowhq.components")

ResponseHandler = Callable[[httpx.Response, StateManager], "str | Awaitable[str | None] | None"]
"""``handler(response, state_manager)`` returns a declared result, or ``None`` for ``success``."""


class ApiCall(Component):
    """Perform an HTTP request; finish ``success`` or ``error``.

    Timeouts, connection errors and 5xx answers are retried a bounded number of times with
    the same ``Idempotency-Key`` (``ApiOptions(retries=...)``); 4xx answers are not.
    What still fails is ``error`` — or ``timeout`` for a final timeout, when the call
    declares that result — recorded in the validation history with its reason. The JSON
    body is kept in the component's data. A ``handler`` may map the response to another
    declared result and save values or update dashboard/action data.

    Args:
        method: HTTP method.
        url: URL or path relative to the client's ``base_url``; ``{name}`` placeholders are
            filled with saved values (option ids, not titles) and URL-encoded.
        json: JSON body; strings in it may be ``{name}`` templates.
        handler: ``(response, state_manager) -> result | None`` (sync or async; a sync one
            runs in a worker thread, so it may block).
        results: Every result the call can finish with (default ``success``, ``error``;
            add ``timeout`` to branch on it).
        save_as: Save the JSON response under this name.
        saves: Names the handler saves with ``state_manager.save_value``.
        timeout: Seconds per attempt (default: ``ApiOptions(timeout=...)``).
        initial: This is the initial state.
    """

    kind = "ApiCall"
    role: ClassVar[Role] = Role.API

    def __init__(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        handler: ResponseHandler | None = None,
        results: Sequence[str] = ("success", "error"),
        save_as: str | None = None,
        saves: Iterable[str] = (),
        timeout: float | None = None,
        initial: bool = False,
    ) -> None:
        super().__init__(url, results=results, saves=saves, initial=initial)
        self.method = method.upper()
        self.json = json
        self.handler = handler
        self.save_as = save_as
        self.timeout = timeout
        if "error" not in self.results:
            self.definition_problems.append("an ApiCall's results must include 'error'")
        if timeout is not None and timeout <= 0:
            self.definition_problems.append(f"timeout must be positive, got {timeout}")
        if save_as is not None and not save_as.isidentifier():
            bad = [save_as]
            self.definition_problems.append(f"saved names must be plain names, got {bad}")
        try:
            self.payload_fields = tuple(json_fields(json))
        except TemplateError as exc:
            self.payload_fields = ()
            self.definition_problems.append(str(exc))

    @property
    def saves(self) -> frozenset[str]:
        """``save_as`` and the names the handler declares."""
        return self.declared_saves | ({self.save_as} if self.save_as else set())

    @property
    def template_fields(self) -> tuple[str, ...]:
        """Placeholders of the URL and of the JSON body."""
        return (*self.text.fields, *self.payload_fields)

    def describe(self) -> str:
        """Kind, method and URL as written."""
        return f"{self.kind}: {self.method} {self.text.text}"

    def _url(self, state_manager: StateManager) -> str:
        values = state_manager.payload_values()
        encoded = {name: quote(str(values.get(name, "")), safe="") for name in self.text.fields}
        for name in self.text.fields:  # a hole in a URL must fail like a hole in a message
            Template("{" + name + "}").render(values)
        return Template(self.text.text).render(encoded)

    async def begin(self, state_manager: StateManager) -> str | None:
        """Perform the request and return its result."""
        values = state_manager.payload_values()
        body = fill_json(self.json, values) if self.json is not None else None
        try:
            response = await state_manager.make_api_request(
                self.method, self._url(state_manager), json=body, timeout=self.timeout
            )
        except httpx.TimeoutException as exc:
            late = "timeout" if "timeout" in self.results else "error"
            return self._failed(state_manager, f"timeout: {type(exc).__name__}", late)
        except httpx.TransportError as exc:
            return self._failed(state_manager, f"connection error: {type(exc).__name__}")
        payload = _json_or_none(response)
        state_manager.update_component_data({"status": response.status_code, "response": payload})
        if self.save_as and not response.is_error and payload is not None:
            state_manager.save_value(self.save_as, payload)
        if self.handler is not None:
            result: Any = await call_user_function(self.handler, response, state_manager)
            if result is not None:
                if result not in self.results:
                    raise FlowError(
                        f"handler of {self.id!r} returned {result!r}, not one of {self.results}"
                    )
                state_manager.record_validation(self.id, success=result != "error")
                return str(result)
        if response.is_error:
            return self._failed(state_manager, f"HTTP {response.status_code}")
        state_manager.record_validation(self.id, success=True)
        return "success"

    def _failed(self, state_manager: StateManager, reason: str, result: str = "error") -> str:
        logger.info("api call %s failed: %s", self.id, reason)
        state_manager.record_validation(self.id, success=False, error=reason)
        return result


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None

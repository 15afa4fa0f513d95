"""``ApiCall``: call an HTTP API through the Headquarters' httpx client."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from flowhq.errors import FlowError
from flowhq.state.manager import Role, StateManager
from flowhq.statecharts.templates import Template, TemplateError, check_json, fill_json

from .base import ComponentBase

__all__ = ["ApiCall", "ResponseHandler"]

logger = logging.getLogger("flowhq.components")

ResponseHandler = Callable[[httpx.Response, StateManager], "str | Awaitable[str | None] | None"]
"""``handler(response, state_manager)`` returns a declared result, or ``None`` for ``success``."""


class ApiCall(ComponentBase):
    """Perform an HTTP request; finish ``success`` or ``error``.

    Timeouts, connection errors and 4xx/5xx answers are ``error``, recorded in the validation
    history with their reason. The JSON body is kept in the component's data. A ``handler``
    may map the response to another declared result and update dashboard/action data.

    Args:
        method: HTTP method.
        url: URL or path relative to the client's ``base_url``; ``{name}`` placeholders are
            filled and URL-encoded.
        json: JSON body; strings in it may be ``{name}`` templates.
        handler: ``(response, state_manager) -> result | None`` (sync or async).
        results: Every result the call can finish with (default ``success``, ``error``).
        save_as: Save the JSON response under this name.
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
        initial: bool = False,
    ) -> None:
        super().__init__(url, results=results, initial=initial)
        self.method = method.upper()
        self.json = json
        self.handler = handler
        self.save_as = save_as
        if "error" not in self.results:
            self.definition_problems.append("an ApiCall's results must include 'error'")
        try:
            check_json(json)
        except TemplateError as exc:
            self.definition_problems.append(str(exc))

    def describe(self) -> str:
        """Kind, method and URL as written."""
        return f"{self.kind}: {self.method} {self.text.text}"

    def _url(self, state_manager: StateManager) -> str:
        values = state_manager.values()
        encoded = {name: quote(str(values.get(name, "")), safe="") for name in self.text.fields}
        return Template(self.text.text).render(encoded)

    async def begin(self, state_manager: StateManager) -> str | None:
        """Perform the request and return its result."""
        body = fill_json(self.json, state_manager.values()) if self.json is not None else None
        try:
            response = await state_manager.make_api_request(
                self.method, self._url(state_manager), json=body
            )
        except httpx.TimeoutException as exc:
            return self._failed(state_manager, f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return self._failed(state_manager, f"connection error: {type(exc).__name__}")
        payload = _json_or_none(response)
        state_manager.update_component_data({"status": response.status_code, "response": payload})
        if self.save_as and not response.is_error:
            state_manager.save_value(self.save_as, payload)
        if self.handler is not None:
            result = self.handler(response, state_manager)
            if inspect.isawaitable(result):
                result = await result
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

    def _failed(self, state_manager: StateManager, reason: str) -> str:
        logger.info("api call %s failed: %s", self.id, reason)
        state_manager.record_validation(self.id, success=False, error=reason)
        return "error"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None

"""``StateManager``: the only way components read and change conversation state.

One manager is made per component call, bound to that component's state id and role; the
role decides what it may change (DESIGN §5, component boundaries):

====================  ==========================================================
role                  may change
====================  ==========================================================
``display``           nothing (it may send messages)
``confirm``           nothing but validation tracking (it gates yes/no)
``input``             its own component data, its ``save_as`` value, validation
``api``               its own data, saved values, dashboard and action data
====================  ==========================================================

Every getter returns a copy: mutating it changes nothing stored.
"""

from __future__ import annotations

import copy
import enum
import hashlib
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import httpx

from flowhq.errors import FlowError, StateAccessError
from flowhq.messaging.types import OutboundMessage
from flowhq.state.document import ConversationDocument, ValidationEntry, utc_now

__all__ = ["Messaging", "Role", "StateManager"]

VALIDATION_HISTORY_LIMIT = 50
"""Validation entries kept per conversation (newest kept)."""


class Role(enum.Enum):
    """What a component may change; see the module docstring."""

    DISPLAY = "display"
    CONFIRM = "confirm"
    INPUT = "input"
    API = "api"


class Messaging:
    """Collects the replies of one step; they reach the user only after the commit."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []

    def send(self, text: str, *, buttons: Sequence[tuple[str, str]] = ()) -> None:
        """Queue a reply with optional reply buttons ``(id, title)``."""
        self.messages.append(OutboundMessage(text, tuple(buttons)))


class StateManager:
    """Accessor over one conversation's document, scoped to one component.

    Not constructed by users: ``Headquarters`` makes one for each component call.
    """

    def __init__(
        self,
        document: ConversationDocument,
        *,
        component: str,
        role: Role,
        messaging: Messaging,
        save_as: str | None = None,
        api: httpx.AsyncClient | None = None,
        revision: int = 0,
    ) -> None:
        self._document = document
        self._component = component
        self._role = role
        self._save_as = save_as
        self._api = api
        self._revision = revision
        self.messaging = messaging
        """Where the component's replies go (``state_manager.messaging.send(text)``)."""

    def __repr__(self) -> str:
        channel = self._document.channel
        return (
            f"StateManager(channel={channel.type}:{channel.identifier}, "
            f"component={self._component!r}, role={self._role.value})"
        )

    # -- protected state, read-only ------------------------------------------------------

    def get_channel_id(self) -> str:
        """The user's identifier on the channel."""
        return self._document.channel.identifier

    def get_channel_type(self) -> str:
        """The channel type, e.g. ``"whatsapp"``."""
        return self._document.channel.type

    def get_dashboard_data(self) -> dict[str, Any]:
        """A copy of the API-sourced dashboard data."""
        return copy.deepcopy(self._document.dashboard)

    def get_action_data(self) -> dict[str, Any]:
        """A copy of the API-sourced action data."""
        return copy.deepcopy(self._document.action)

    def is_authenticated(self) -> bool:
        """Whether an auth token is set (the token itself is never handed out)."""
        return self._document.auth.token is not None

    # -- flow and component state ----------------------------------------------------------

    def get_path(self) -> str | None:
        """The active flow's name."""
        return self._document.current.path

    def get_component(self) -> str:
        """The state id of the component this manager is bound to."""
        return self._component

    def get_component_result(self) -> str | None:
        """The latest result dispatched in this conversation."""
        return self._document.current.component_result

    def get_component_data(self, component: str | None = None) -> dict[str, Any]:
        """A copy of a component's data (default: this component's)."""
        data = self._document.current.data.get(component or self._component, {})
        return copy.deepcopy(data) if isinstance(data, dict) else {}

    def get_value(self, name: str, default: Any = None) -> Any:
        """A copy of a value saved with ``save_as`` (or by an API handler)."""
        return copy.deepcopy(self._document.current.data.get(name, default))

    def values(self) -> Mapping[str, Any]:
        """A read-only view of what templates can use: dashboard, action, then saved values."""
        merged = {
            **self._document.dashboard,
            **self._document.action,
            **self._document.current.data,
        }
        return MappingProxyType(copy.deepcopy(merged))

    # -- validation tracking ---------------------------------------------------------------

    def get_validation_status(self, operation: str) -> dict[str, Any]:
        """``{"attempts": n, "latest": entry or None}`` for ``operation``."""
        validation = self._document.validation
        latest = next((e for e in reversed(validation.history) if e.operation == operation), None)
        return {
            "attempts": validation.attempts.get(operation, 0),
            "latest": _entry_dict(latest) if latest else None,
        }

    def get_validation_history(self) -> list[dict[str, Any]]:
        """Every recorded validation entry, oldest first (bounded)."""
        return [_entry_dict(entry) for entry in self._document.validation.history]

    def record_validation(self, operation: str, *, success: bool, error: str | None = None) -> None:
        """Count an attempt at ``operation`` and append it to the validation history.

        Raises:
            StateAccessError: for display components.
        """
        self._require({Role.INPUT, Role.CONFIRM, Role.API}, "record validation")
        _record(self._document, operation, self._component, success, error)

    # -- validated updates -----------------------------------------------------------------

    def update_component_data(
        self, updates: Mapping[str, Any], *, component: str | None = None
    ) -> None:
        """Merge ``updates`` into this component's own data.

        Raises:
            StateAccessError: for display/confirm components, or for another component's data.
        """
        if component is not None and component != self._component:
            raise StateAccessError(self._component, f"write data of component {component!r}")
        self._require({Role.INPUT, Role.API}, "write component data")
        data = self._document.current.data.setdefault(self._component, {})
        data.update(copy.deepcopy(dict(updates)))

    def clear_component_data(self) -> None:
        """Forget this component's own data (done when an input component is re-entered)."""
        self._require({Role.INPUT, Role.API}, "write component data")
        self._document.current.data.pop(self._component, None)

    def save_value(self, name: str, value: Any) -> None:
        """Save a value for templates and guards.

        Input components may save only under their own ``save_as`` name; API components
        (handlers) may save any name that is not a component's data.

        Raises:
            StateAccessError: when the component may not save ``name``.
        """
        if self._role is Role.INPUT and name != self._save_as:
            raise StateAccessError(
                self._component, f"save {name!r} (its save_as is {self._save_as!r})"
            )
        self._require({Role.INPUT, Role.API}, f"save {name!r}")
        self._document.current.data[name] = copy.deepcopy(value)

    def update_dashboard(self, updates: Mapping[str, Any]) -> None:
        """Merge API-sourced ``updates`` into the dashboard data (API components only).

        Raises:
            StateAccessError: for every other component.
        """
        self._require({Role.API}, "update dashboard data")
        self._document.dashboard.update(copy.deepcopy(dict(updates)))

    def update_action(self, updates: Mapping[str, Any]) -> None:
        """Merge API-sourced ``updates`` into the action data (API components only).

        Raises:
            StateAccessError: for every other component.
        """
        self._require({Role.API}, "update action data")
        self._document.action.update(copy.deepcopy(dict(updates)))

    # -- API requests ----------------------------------------------------------------------

    def idempotency_key(self) -> str:
        """Key for API requests of this step: same conversation, revision and state, same key.

        A step retried after a commit conflict repeats its requests with the same key, so a
        server that deduplicates on it performs them once.
        """
        channel = self._document.channel
        seed = f"{channel.type}:{channel.identifier}:{self._revision}:{self._component}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    async def make_api_request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send a request through the Headquarters' httpx client.

        Adds the bearer token from the auth state and an ``Idempotency-Key`` header; the
        client's timeout applies (httpx's default is 5 seconds), so no request hangs a step.

        Raises:
            StateAccessError: for components other than API calls and actions.
            FlowError: when Headquarters has no API client.
            httpx.HTTPError: transport errors, for the caller (or ErrorHandler) to handle.
        """
        self._require({Role.API}, "make API requests")
        if self._api is None:
            raise FlowError("no API client: pass Headquarters(api=httpx.AsyncClient(...))")
        headers = {"Idempotency-Key": self.idempotency_key()}
        token = self._document.auth.token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self._api.request(method, url, json=json, params=params, headers=headers)

    def _require(self, roles: set[Role], operation: str) -> None:
        if self._role not in roles:
            raise StateAccessError(self._component, operation)


def _entry_dict(entry: ValidationEntry) -> dict[str, Any]:
    return {
        "operation": entry.operation,
        "component": entry.component,
        "timestamp": entry.timestamp,
        "success": entry.success,
        "error": entry.error,
    }


def _record(
    document: ConversationDocument, operation: str, component: str, success: bool, error: str | None
) -> None:
    validation = document.validation
    validation.attempts[operation] = validation.attempts.get(operation, 0) + 1
    validation.history.append(ValidationEntry(operation, component, utc_now(), success, error))
    del validation.history[:-VALIDATION_HISTORY_LIMIT]


def record_error(document: ConversationDocument, component: str, error: str) -> None:
    """Record an error raised inside ``component`` (used by the ErrorHandler)."""
    _record(document, f"error:{component}", component, False, error)

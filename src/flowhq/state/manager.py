"""``StateManager``: the only way components read and change conversation state.

One manager is made per component call, bound to that component's state id and role; the
role decides what it may change (docs/architecture.md; the roles are listed here):

====================  ==========================================================
role                  may change
====================  ==========================================================
``display``           nothing (it may send messages)
``confirm``           nothing but validation tracking (it gates yes/no)
``input``             its own component data, the value it saves, validation
``api``               its own data, the values it declares, dashboard and action data
====================  ==========================================================

Every getter returns a copy: mutating it changes nothing stored.
"""

from __future__ import annotations

import copy
import enum
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

import httpx

from flowhq.errors import FlowError, StateAccessError
from flowhq.messaging.types import OutboundMessage
from flowhq.state.document import ConversationDocument, ValidationEntry, utc_now
from flowhq.state.json_values import storable_copy
from flowhq.state.secrets import redact

__all__ = [
    "ApiRequester",
    "Messaging",
    "PlainSpeech",
    "Role",
    "Speech",
    "StateManager",
    "TemplateValues",
]

VALIDATION_HISTORY_LIMIT = 50
"""Validation entries kept per conversation (newest kept)."""


class Role(enum.Enum):
    """What a component may change; see the module docstring."""

    DISPLAY = "display"
    CONFIRM = "confirm"
    INPUT = "input"
    API = "api"


class ApiRequester(Protocol):
    """Performs API requests for ``make_api_request`` (the runtime's ``ApiClient``)."""

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
        """Send the request (with retries); keep ``secret`` out of any error message."""
        ...


class Speech(Protocol):
    """The conversation's language and time: what texts and validators need to speak it.

    ``flowhq.i18n.Localization`` is the runtime's; without one a component speaks the
    English it was written in, in UTC.
    """

    @property
    def locale(self) -> str:
        """The conversation's locale (``"en"``, ``"es"``, ``"pt_BR"``)."""
        ...

    @property
    def timezone(self) -> tzinfo:
        """The conversation's time zone."""
        ...

    def now(self) -> datetime:
        """The current time, aware, in the conversation's time zone."""
        ...

    def gettext(self, text: str) -> str:
        """``text`` (an English message id) in the conversation's language."""
        ...


class PlainSpeech:
    """English and UTC: the speech of a component run without a runtime's localization."""

    locale = "en"
    timezone: tzinfo = UTC

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    def gettext(self, text: str) -> str:
        """``text`` as written."""
        return text


class Messaging:
    """Collects the replies of one step; they reach the user only after the commit."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []

    def send(
        self,
        text: str,
        *,
        buttons: Sequence[tuple[str, str]] = (),
        tag: str | None = None,
        descriptions: Sequence[str | None] = (),
        menu_label: str | None = None,
        more_label: str | None = None,
        offset: int = 0,
        header: str | None = None,
        footer: str | None = None,
    ) -> None:
        """Queue a reply, with optional options ``(id, title)`` (see ``OutboundMessage``)."""
        self.messages.append(
            OutboundMessage(
                text,
                tuple(buttons),
                tag=tag,
                descriptions=descriptions,
                menu_label=menu_label,
                more_label=more_label,
                offset=offset,
                header=header,
                footer=footer,
            )
        )


class TemplateValues(Mapping[str, Any]):
    """What templates see: saved values by name, ``dashboard.x`` and ``action.x``.

    With ``labels`` (message texts), a value is shown by its label where it has one (a
    Choice's option title); without (API payloads), the value itself (the option id).
    Reads go straight to the document: templates only format values, never change them.
    """

    def __init__(self, document: ConversationDocument, *, labels: bool) -> None:
        self._document = document
        self._labels = labels

    def __getitem__(self, name: str) -> Any:
        namespace, dot, key = name.partition(".")
        if dot:
            source = self._document.dashboard if namespace == "dashboard" else None
            if namespace == "action":
                source = self._document.action
            if source is None:
                raise KeyError(name)
            return source[key]
        current = self._document.current
        if self._labels and name in current.labels:
            return current.labels[name]
        return current.values[name]

    def __iter__(self) -> Iterator[str]:
        current = self._document.current
        yield from current.values
        yield from (f"dashboard.{key}" for key in self._document.dashboard)
        yield from (f"action.{key}" for key in self._document.action)

    def __len__(self) -> int:
        document = self._document
        return len(document.current.values) + len(document.dashboard) + len(document.action)


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
        saves: frozenset[str] = frozenset(),
        api: ApiRequester | None = None,
        revision: int = 0,
        resumed: bool = False,
        speech: Speech | None = None,
    ) -> None:
        self._document = document
        self.speech: Speech = speech or PlainSpeech()
        """The conversation's language, time zone and time (``speech.gettext(text)``)."""
        self._component = component
        self._role = role
        self._saves = saves
        self._api = api
        self._revision = revision
        self.messaging = messaging
        """Where the component's replies go (``state_manager.messaging.send(text)``)."""
        self.resumed = resumed
        """Whether this entry returns to the state through history (after a detour such as
        ``help``) rather than arriving by a normal transition: a fresh visit starts fresh
        counts, a return keeps them."""

    @property
    def question_tag(self) -> str | None:
        """The tag of this visit of the component's question (for its buttons)."""
        return self._document.current.tags.get(self._component)

    @property
    def revision(self) -> int:
        """The revision of the document this step started from."""
        return self._revision

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

    def last_inbound_at(self) -> str | None:
        """When the user last wrote (ISO-8601 UTC); WhatsApp's 24-hour window opens then."""
        return self._document.metadata.last_inbound_at

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
        return copy.deepcopy(self._document.current.data.get(component or self._component, {}))

    def get_value(self, name: str, default: Any = None) -> Any:
        """A copy of a saved value: a Prompt's answer, a Choice's option id, ..."""
        return copy.deepcopy(self._document.current.values.get(name, default))

    def get_label(self, name: str, default: str | None = None) -> str | None:
        """How a saved value is shown to the user (a Choice's option title), if it has one."""
        return self._document.current.labels.get(name, default)

    def values(self) -> Mapping[str, Any]:
        """What message templates see: labels where values have one, else the values."""
        return TemplateValues(self._document, labels=True)

    def payload_values(self) -> Mapping[str, Any]:
        """What API payload templates see: the values themselves (option ids, not titles)."""
        return TemplateValues(self._document, labels=False)

    # -- validation tracking ---------------------------------------------------------------

    def get_validation_status(self, operation: str) -> dict[str, Any]:
        """``{"attempts": n, "latest": entry or None}`` for ``operation``."""
        validation = self._document.validation
        latest = next((e for e in reversed(validation.history) if e.operation == operation), None)
        return {
            "attempts": validation.attempts.get(operation, 0),
            "latest": latest.as_dict() if latest else None,
        }

    def get_validation_history(self) -> list[dict[str, Any]]:
        """Every recorded validation entry, oldest first (bounded)."""
        return [entry.as_dict() for entry in self._document.validation.history]

    def record_validation(self, operation: str, *, success: bool, error: str | None = None) -> None:
        """Count an attempt at ``operation`` and append it to the validation history.

        Raises:
            StateAccessError: for display components.
        """
        self._require({Role.INPUT, Role.CONFIRM, Role.API}, "record validation")
        record(self._document, operation, self._component, success, error)

    # -- validated updates -----------------------------------------------------------------

    def update_component_data(
        self, updates: Mapping[str, Any], *, component: str | None = None
    ) -> None:
        """Merge ``updates`` into this component's own data.

        Raises:
            StateAccessError: for display/confirm components, or for another component's data.
            TypeError: a value JSON cannot hold.
        """
        if component is not None and component != self._component:
            raise StateAccessError(self._component, f"write data of component {component!r}")
        self._require({Role.INPUT, Role.API}, "write component data")
        updates = self._checked(dict(updates), "component data")
        self._document.current.data.setdefault(self._component, {}).update(updates)

    def clear_component_data(self) -> None:
        """Forget this component's own data (done when an input component is re-entered)."""
        self._require({Role.INPUT, Role.API}, "write component data")
        self._document.current.data.pop(self._component, None)

    def save_value(self, name: str, value: Any, *, label: str | None = None) -> None:
        """Save a value for templates and guards, optionally with the text users see for it.

        Input components save only under their own name (the state id, or ``save_as``);
        ``ApiCall`` handlers and ``Action`` functions only under the names they declare
        with ``saves=``, so the flow's checks know every name a template may use.

        Raises:
            StateAccessError: when the component may not save ``name``.
            TypeError: ``value`` is something JSON cannot hold (a datetime, a set, ...).
        """
        self._require({Role.INPUT, Role.API}, f"save {name!r}")
        if name not in self._saves:
            declared = ", ".join(sorted(self._saves)) or "nothing"
            raise StateAccessError(
                self._component,
                f"save {name!r}: it declares {declared} (add the name to its saves=)",
            )
        value = self._checked(value, f"value {name!r}")
        current = self._document.current
        current.values[name] = value
        if label is None:
            current.labels.pop(name, None)
        else:
            current.labels[name] = label

    def update_dashboard(self, updates: Mapping[str, Any]) -> None:
        """Merge API-sourced ``updates`` into the dashboard data (API components only).

        Raises:
            StateAccessError: for every other component.
            TypeError: a value JSON cannot hold.
        """
        self._require({Role.API}, "update dashboard data")
        self._document.dashboard.update(self._checked(dict(updates), "dashboard data"))

    def update_action(self, updates: Mapping[str, Any]) -> None:
        """Merge API-sourced ``updates`` into the action data (API components only).

        Raises:
            StateAccessError: for every other component.
            TypeError: a value JSON cannot hold.
        """
        self._require({Role.API}, "update action data")
        self._document.action.update(self._checked(dict(updates), "action data"))

    def _checked(self, value: Any, what: str) -> Any:
        """A private copy of ``value``, refused now if the commit could not store it."""
        return storable_copy(value, f"state {self._component!r}: {what}")

    # -- API requests ----------------------------------------------------------------------

    def idempotency_key(self) -> str:
        """Key for API requests of this step: same conversation, revision and state, same key.

        A step retried after a commit conflict or a timeout repeats its requests with the
        same key, so a server that deduplicates on it performs them once.
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
        timeout: float | None = None,  # noqa: ASYNC109 - the HTTP timeout of each attempt
    ) -> httpx.Response:
        """Send a request through the Headquarters' httpx client.

        Adds the bearer token from the auth state and an ``Idempotency-Key`` header. A
        timeout, a connection error or a 5xx answer is retried a bounded number of times
        with backoff and the same key; a 4xx answer is returned at once.

        Args:
            method: HTTP method.
            url: URL, or a path relative to the client's ``base_url``.
            json: JSON body.
            params: Query parameters.
            timeout: Seconds per attempt (default: ``ApiOptions.timeout``).

        Returns:
            The response (a 5xx one when every attempt got one).

        Raises:
            StateAccessError: for components other than API calls and actions.
            FlowError: when Headquarters has no API client.
            httpx.TimeoutException: the last attempt timed out.
            httpx.TransportError: the last attempt could not connect (or another transport
                failure); the message never contains the auth token.
        """
        self._require({Role.API}, "make API requests")
        if self._api is None:
            raise FlowError("no API client: pass Headquarters(api=httpx.AsyncClient(...))")
        headers = {"Idempotency-Key": self.idempotency_key()}
        token = self._document.auth.token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self._api.request(
            method, url, json=json, params=params, headers=headers, timeout=timeout, secret=token
        )

    def _require(self, roles: set[Role], operation: str) -> None:
        if self._role not in roles:
            raise StateAccessError(self._component, operation)


def record(
    document: ConversationDocument, operation: str, component: str, success: bool, error: str | None
) -> None:
    """Count an attempt at ``operation`` and append it to the bounded validation history."""
    validation = document.validation
    validation.attempts[operation] = validation.attempts.get(operation, 0) + 1
    error = redact(error, document.auth.token) if error is not None else None
    validation.history.append(ValidationEntry(operation, component, utc_now(), success, error))
    if len(validation.history) > VALIDATION_HISTORY_LIMIT:
        del validation.history[:-VALIDATION_HISTORY_LIMIT]


def record_error(document: ConversationDocument, component: str, error: str) -> None:
    """Record an error raised inside ``component`` (used by the ErrorHandler)."""
    record(document, f"error:{component}", component, False, error)

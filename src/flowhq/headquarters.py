"""``Headquarters``: the public front of the message cycle (docs/architecture.md).

Each call reads top to bottom as intake -> conversations -> delivery: the key and the
input are checked before any I/O, the conversation is loaded, stepped and committed under its
lock, and the committed replies are sent. The rooms doing that work live in
:mod:`flowhq.runtime`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from attrs import evolve as attrs_evolve

from flowhq.components.api_call import ApiCall
from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import FlowDefinitionError, InputError
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.persistence.store import Store
from flowhq.runtime.api import ApiClient
from flowhq.runtime.conversations import Conversations
from flowhq.runtime.delivery import Delivery
from flowhq.runtime.intake import Intake
from flowhq.runtime.records import Outcome, StepObserver
from flowhq.runtime.settings import ApiOptions, DeliveryOptions, Limits
from flowhq.runtime.step import Stepper
from flowhq.runtime.turn import Turns
from flowhq.state.json_values import storable_copy
from flowhq.state.secrets import normalize_token
from flowhq.statecharts.flow import Flow
from flowhq.statecharts.model import all_states

__all__ = ["Headquarters"]

logger = logging.getLogger("flowhq.headquarters")

# The flat keywords of the first release, and the settings group each now belongs to.
_DEPRECATED = {
    "max_steps": ("limits", "max_steps"),
    "max_text": ("limits", "max_text"),
    "max_attempts": ("limits", "max_attempts"),
    "redelivery_after": ("delivery", "redelivery_after"),
    "duplicate_grace": ("delivery", "duplicate_grace"),
    "api_timeout": ("api", "timeout"),
    "api_retries": ("api", "retries"),
    "api_backoff": ("api", "backoff"),
}


class Headquarters:
    """Runs flows for inbound messages and commits every step to the store.

    Args:
        flows: The flow classes this bot runs; the first is the entry flow unless ``entry``.
        store: Where conversations live (``MemoryStore()``, ``RedisStore.from_url(...)``).
        messenger: Delivers replies after each commit. Without one, replies are only returned
            in the ``Outcome`` and nothing is kept in the outbox.
        entry: Name of the flow a new conversation starts.
        api: The httpx client used by ``ApiCall`` and ``make_api_request``, or
            ``ApiOptions`` (the client with its timeout, retries and backoff). Required
            when a flow has an ``ApiCall``.
        ttl: Seconds a conversation is kept after its last message (``None``: forever).
        error_handler: Decides on errors raised inside components.
        limits: Bounds on transitions per message, inbound text, commit attempts.
        delivery: When replies a crash left behind are sent again.
        channels: Accepted channel types (default: any well-formed name).
        cache: Keep each conversation's last committed document in this process, so its
            next message needs no load: one round trip per message when this process
            handled the previous one. A stale copy only costs the commit's conflict
            answer, which carries the current document.
        observer: Instrumentation hook (``flowhq.testing`` uses it to force results and to
            record the transitions tests exercise); leave it out in production.
        deprecated: The flat keywords of 0.1 (``max_steps``, ``max_text``, ``max_attempts``,
            ``redelivery_after``, ``duplicate_grace``, ``api_timeout``, ``api_retries``,
            ``api_backoff``) still work for this release, with a ``DeprecationWarning``.

    Raises:
        ValueError: no flows, two flows with one name, an unknown entry flow.
        TypeError: an unknown keyword.
        FlowDefinitionError: a flow calls APIs but no ``api`` client was given, or the
            messenger reports texts or options its channel cannot show.
    """

    def __init__(
        self,
        *,
        flows: Sequence[type[Flow]],
        store: Store,
        messenger: Messenger | None = None,
        entry: str | None = None,
        api: httpx.AsyncClient | ApiOptions | None = None,
        ttl: int | None = None,
        error_handler: ErrorHandler | None = None,
        limits: Limits | None = None,
        delivery: DeliveryOptions | None = None,
        channels: Sequence[str] | None = None,
        cache: bool = True,
        observer: StepObserver | None = None,
        **deprecated: Any,
    ) -> None:
        api_options = api if isinstance(api, ApiOptions) else ApiOptions(api)
        groups = _upgrade(
            deprecated, limits or Limits(), delivery or DeliveryOptions(), api_options
        )
        limits, delivery, api_options = groups
        self.flows = _by_name(flows)
        entry = entry or flows[0].name
        if entry not in self.flows:
            raise ValueError(f"entry flow {entry!r} is not among {sorted(self.flows)}")
        _check_api(flows, api_options.client)
        check = getattr(messenger, "check_flows", None)
        if check is not None and (problems := check(list(flows))):
            raise FlowDefinitionError(type(messenger).__name__, problems)
        self.store = store
        self.messenger = messenger
        self.ttl = ttl
        self.limits = limits
        self.error_handler = error_handler or ErrorHandler()
        self._api = ApiClient(api_options)
        self._intake = Intake(channels=channels, max_text=limits.max_text)
        self._stepper = Stepper(
            self.flows,
            entry=entry,
            api=self._api,
            error_handler=self.error_handler,
            max_steps=limits.max_steps,
            observer=observer,
        )
        turns = Turns(
            self._stepper,
            codec=store.codec,
            error_handler=self.error_handler,
            keeps_outbox=messenger is not None,
        )
        self._conversations = Conversations(
            store, turns, ttl=ttl, max_attempts=limits.max_attempts, cache=cache
        )
        self._delivery = Delivery(messenger, self._conversations, delivery)

    def __repr__(self) -> str:
        return f"Headquarters(flows={sorted(self.flows)}, store={self.store!r})"

    @property
    def observer(self) -> StepObserver | None:
        """The instrumentation hook (see ``observer`` in the class docs)."""
        return self._stepper.observer

    @observer.setter
    def observer(self, observer: StepObserver | None) -> None:
        self._stepper.observer = observer

    @property
    def entry(self) -> str:
        """The name of the flow a new conversation starts."""
        return self._stepper.entry

    async def handle(self, inbound: InboundMessage) -> Outcome:
        """Process one inbound message: load, step, commit, then send the replies.

        Raises:
            InputError: malformed message (before any I/O).
            SnapshotError: the stored document of this conversation is unreadable.
            ConflictError: the commit kept losing to concurrent writers.
            StoreUnavailableError: the store is down.
        """
        key = self._intake.admit(inbound)
        refusal = self._intake.refusal(inbound)
        if refusal is not None:
            reply = OutboundMessage(refusal)
            delivered = await self._delivery.refuse(key, reply)
            return Outcome(replies=[reply], rejected=True, delivered=delivered)

        async with self._conversations.lock(key):
            done = await self._conversations.answer(key, inbound)
            outcome = done.outcome
            if done.committed is not None:
                outcome.delivered = await self._delivery.after_commit(key, done.committed)
        if outcome.duplicate:
            outcome.delivered = await self._delivery.retried(key, done.loaded, inbound.message_id)
        return outcome

    async def start(self, channel: str, identifier: str, flow: str | None = None) -> Outcome:
        """Begin ``flow`` (default: the entry flow) without an inbound message.

        Any flow the conversation was in is left. Use it for business-initiated conversations.
        """
        key = self._intake.key(channel, identifier)
        name = flow or self.entry
        if name not in self.flows:
            raise InputError(f"unknown flow {name!r}; known: {sorted(self.flows)}")

        async with self._conversations.lock(key):
            done = await self._conversations.begin(key, name)
            assert done.committed is not None
            done.outcome.delivered = await self._delivery.after_commit(key, done.committed)
        return done.outcome

    async def initialize(
        self,
        channel: str,
        identifier: str,
        *,
        dashboard: Mapping[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        auth_token: str | None = None,
    ) -> int:
        """Set a conversation's protected state (API-sourced data, auth token).

        The token is stripped of surrounding whitespace; one with control characters is
        refused (it could not be sent in a header, and the error would show it).

        Returns:
            The document's new revision.

        Raises:
            InputError: a token that cannot be used, or data JSON cannot hold.
        """
        key = self._intake.key(channel, identifier)
        changes = _protected_changes(dashboard, action, auth_token)

        async with self._conversations.lock(key):
            done = await self._conversations.initialize(key, changes)
            assert done.committed is not None
            await self._delivery.after_commit(key, done.committed)
        return done.outcome.revision

    async def redeliver(self, *, older_than: float | None = None) -> int:
        """Send committed but undelivered replies, in every conversation.

        Call it at start-up after a crash (``older_than=0``) or periodically (the WhatsApp
        webhook app does). Replies younger than ``older_than`` seconds (default:
        ``DeliveryOptions.redelivery_after``) are skipped: another process is probably
        sending them. A conversation that cannot be read is logged and skipped. Returns the
        number of replies sent.
        """
        return await self._delivery.redeliver(older_than=older_than)

    async def pending(self, channel: str, identifier: str) -> list[OutboundMessage]:
        """The question the conversation waits on, rendered again; nothing is committed.

        For a terminal or a console resuming a stored conversation (show the user where
        they are). Empty when nothing waits.
        """
        loaded = await self.store.load(self._intake.key(channel, identifier))
        if loaded.document is None:
            return []
        return self._stepper.pending(loaded.document, revision=loaded.revision)

    async def last_inbound(self, channel: str, identifier: str) -> str | None:
        """When the user last wrote (ISO-8601 UTC), or ``None``.

        WhatsApp lets a business answer freely for 24 hours after that (the customer
        service window); later, only approved templates.
        """
        loaded = await self.store.load(self._intake.key(channel, identifier))
        return loaded.document.metadata.last_inbound_at if loaded.document else None

    async def aclose(self) -> None:
        """Close what the Headquarters was given: the store, the messenger, the API client."""
        close = getattr(self.messenger, "aclose", None)
        if close is not None:
            await close()
        await self._api.aclose()
        await self.store.close()


def _by_name(flows: Sequence[type[Flow]]) -> dict[str, type[Flow]]:
    if not flows:
        raise ValueError("Headquarters needs at least one flow")
    named: dict[str, type[Flow]] = {}
    for flow_cls in flows:
        if flow_cls.name in named:
            raise ValueError(f"two flows are named {flow_cls.name!r}")
        named[flow_cls.name] = flow_cls
    return named


def _upgrade(
    deprecated: Mapping[str, Any], limits: Limits, delivery: DeliveryOptions, api: ApiOptions
) -> tuple[Limits, DeliveryOptions, ApiOptions]:
    """Fold the 0.1 flat keywords into their settings groups, warning once per call."""
    unknown = sorted(set(deprecated) - set(_DEPRECATED))
    if unknown:
        raise TypeError(f"Headquarters() got unexpected keyword arguments {unknown}")
    if not deprecated:
        return limits, delivery, api
    groups: dict[str, Any] = {"limits": limits, "delivery": delivery, "api": api}
    hints = []
    for name, value in deprecated.items():
        group, attribute = _DEPRECATED[name]
        groups[group] = attrs_evolve(groups[group], **{attribute: value})
        hints.append(f"{name}= -> {group}={type(groups[group]).__name__}({attribute}=...)")
    warnings.warn(
        "flat Headquarters keywords are deprecated: " + "; ".join(hints),
        DeprecationWarning,
        stacklevel=3,
    )
    return groups["limits"], groups["delivery"], groups["api"]


def _protected_changes(
    dashboard: Mapping[str, Any] | None, action: Mapping[str, Any] | None, token: str | None
) -> dict[str, Any]:
    """The checked copies ``initialize`` writes (refused before any I/O)."""
    changes: dict[str, Any] = {}
    if token is not None:
        try:
            changes["token"] = normalize_token(token)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    for name, data in (("dashboard", dashboard), ("action", action)):
        if data is not None:
            try:
                changes[name] = storable_copy(dict(data), f"{name} data")
            except TypeError as exc:
                raise InputError(str(exc)) from None
    return changes


def _check_api(flows: Sequence[type[Flow]], client: httpx.AsyncClient | None) -> None:
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

"""Building the rooms of one ``Headquarters`` from its settings (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import FlowDefinitionError
from flowhq.i18n import Languages
from flowhq.messaging.messenger import Messenger
from flowhq.observability.events import Observer
from flowhq.observability.messenger import ObservedMessenger
from flowhq.persistence.store import Store
from flowhq.runtime import intake
from flowhq.runtime.api import ApiClient, check_api_client
from flowhq.runtime.conversations import Conversations
from flowhq.runtime.delivery import Delivery, Undeliverable
from flowhq.runtime.desk import HandoffDesk, OnHandoff
from flowhq.runtime.intake import Intake
from flowhq.runtime.records import StepObserver
from flowhq.runtime.settings import ApiOptions, Clock, DeliveryOptions, Limits, TimerOptions
from flowhq.runtime.step import Stepper
from flowhq.runtime.timekeeper import Timekeeper
from flowhq.runtime.turn import Turns
from flowhq.statecharts.flow import Flow

__all__ = ["Rooms", "build", "by_name"]


@frozen
class Rooms:
    """The rooms one Headquarters runs the message cycle with."""

    api: ApiClient
    intake: Intake
    stepper: Stepper
    conversations: Conversations
    delivery: Delivery
    desk: HandoffDesk
    timekeeper: Timekeeper


def by_name(flows: Sequence[type[Flow]], entry: str | None) -> tuple[dict[str, type[Flow]], str]:
    """The flows by name, and the entry flow's name (default: the first flow's).

    Raises:
        ValueError: no flows, two flows with one name, an unknown entry flow.
    """
    if not flows:
        raise ValueError("Headquarters needs at least one flow")
    named: dict[str, type[Flow]] = {}
    for flow_cls in flows:
        if flow_cls.name in named:
            raise ValueError(f"two flows are named {flow_cls.name!r}")
        named[flow_cls.name] = flow_cls
    entry = entry or flows[0].name
    if entry not in named:
        raise ValueError(f"entry flow {entry!r} is not among {sorted(named)}")
    return named, entry


def build(
    flows: dict[str, type[Flow]],
    *,
    entry: str,
    store: Store,
    messenger: Messenger | None,
    api: ApiOptions,
    limits: Limits,
    delivery: DeliveryOptions,
    error_handler: ErrorHandler,
    observers: list[Observer],
    ttl: int | None,
    channels: Sequence[str] | None,
    cache: bool,
    clock: Clock,
    timers: TimerOptions | None,
    on_undeliverable: Undeliverable | None,
    observer: StepObserver | None,
    transcript: int,
    on_handoff: OnHandoff | None,
    languages: Languages,
) -> Rooms:
    """Check the flows against the API client and the messenger, then build the rooms.

    The keywords are ``Headquarters``' (see its docs).

    Raises:
        FlowDefinitionError: a flow calls APIs but no client was given, or the messenger
            reports texts or options its channel cannot show.
    """
    _check(list(flows.values()), messenger, api)
    client = ApiClient(api)
    stepper = Stepper(
        flows,
        entry=entry,
        api=client,
        error_handler=error_handler,
        max_steps=limits.max_steps,
        observer=observer,
        clock=clock,
        languages=languages,
    )
    outbox = messenger is not None
    keeps = intake.count(transcript, "transcript")
    turns = Turns(stepper, codec=store.codec, error_handler=error_handler, keeps_outbox=outbox)
    turns.transcript = keeps
    conversations = Conversations(
        store, turns, ttl=ttl, limits=limits, cache=cache, observers=observers
    )
    sender = None if messenger is None else ObservedMessenger(messenger, observers)
    sending = Delivery(
        sender, conversations, delivery, clock=clock, on_undeliverable=on_undeliverable
    )
    return Rooms(
        api=client,
        intake=Intake(channels=channels, max_text=limits.max_text),
        stepper=stepper,
        conversations=conversations,
        delivery=sending,
        desk=HandoffDesk(store, on_handoff),
        timekeeper=Timekeeper(
            conversations, sending, clock=clock, options=timers or TimerOptions()
        ),
    )


def _check(flows: list[type[Flow]], messenger: Messenger | None, api: ApiOptions) -> None:
    """Refuse flows that call APIs without a client, or that the messenger cannot show."""
    check_api_client(flows, api.client)
    check = getattr(messenger, "check_flows", None)
    if check is not None and (problems := check(flows)):
        raise FlowDefinitionError(type(messenger).__name__, problems)

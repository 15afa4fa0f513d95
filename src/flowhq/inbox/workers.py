"""What a worker does with an update the queue hands it, and the periodic redelivery.

:func:`update_handler` builds the :data:`~flowhq.inbox.queue.Handler` a queue feeds: one
update goes through ``Headquarters.handle``, and the outcome decides the entry's fate (see
docs/architecture.md):

- done (acknowledged): the update was handled, or handling it again cannot help (invalid
  input, an unreadable stored conversation, an unexpected error: logged and dropped);
- kept for a later try: the store is unreachable or the commit kept losing to concurrent
  writers; the queue tries again, in order.

:func:`redeliver_periodically` sends replies a crash left in an outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from flowhq.errors import ConflictError, InputError, SnapshotError, StoreUnavailableError
from flowhq.headquarters import Headquarters
from flowhq.inbox.lanes import Handler, waiting_behind
from flowhq.inbox.outage import OutageLog
from flowhq.messaging.types import InboundMessage
from flowhq.observability import tracing
from flowhq.observability.events import Observer, Paused, QueueDepth, emit

__all__ = [
    "EventCallback",
    "call_back",
    "redeliver_periodically",
    "report_depth",
    "update_handler",
]

logger = logging.getLogger("flowhq.inbox")

EventCallback = Callable[[InboundMessage], "Awaitable[None] | None"]
"""Called with updates that are not answers to a flow (reactions, system notices)."""


def update_handler(
    hq: Headquarters,
    *,
    not_for_flows: Collection[str] = (),
    on_event: EventCallback | None = None,
    outage: OutageLog | None = None,
) -> Handler:
    """The handler that feeds queued updates to ``hq``.

    Args:
        hq: Runs the flows.
        not_for_flows: Update kinds that are not a user's answer (a reaction, a changed
            number): they go to ``on_event`` and never reach a flow.
        on_event: Called with those updates.
        outage: Where updates kept for lack of the store are counted (one line per outage
            instead of one per update).

    Returns:
        A handler returning ``False`` to keep an update for a later try.
    """
    outages = outage or OutageLog()

    async def handle(message: InboundMessage) -> bool:
        if message.kind in not_for_flows:
            if on_event is not None:
                await call_back(on_event, message)
            return True
        return await handle_update(hq, message, outage=outages, not_for_flows=not_for_flows)

    return handle


def _read_with_a_later(message: InboundMessage, not_for_flows: Collection[str]) -> bool:
    """Whether a later message of the same chat (user and business number) waits in hand.

    Marking that one read marks this one too: WhatsApp marks the earlier messages of a chat
    read with the latest.
    """
    number = message.data.get("phone_number_id")
    return any(
        later.kind not in not_for_flows and later.data.get("phone_number_id") == number
        for later in waiting_behind()
    )


async def handle_update(
    hq: Headquarters,
    message: InboundMessage,
    *,
    outage: OutageLog,
    not_for_flows: Collection[str] = (),
) -> bool:
    """Handle one update; ``False`` keeps it queued (the store is unreachable).

    While the step runs, the messenger marks the message read when it can (WhatsApp's
    read receipt with the typing indicator), unless a later message of the same chat will
    (a user who types fast costs one Graph API request, not one per message).
    """
    acknowledge = getattr(hq.messenger, "acknowledge", None)
    marking = None
    if acknowledge is not None and not _read_with_a_later(message, not_for_flows):
        marking = asyncio.create_task(acknowledge(message.message_id))
    try:
        with tracing.span("flowhq.queue", {"kind": message.kind}, parent=message.traceparent):
            await hq.handle(message)
    except StoreUnavailableError as exc:
        outage.failed(exc, "updates kept for later")
        return False
    except ConflictError as exc:
        logger.warning("%s update %s kept for later: %s", message.channel, message.message_id, exc)
        return False
    except (InputError, SnapshotError) as exc:  # retrying cannot help: log and drop it
        logger.error("%s update %s dropped: %s", message.channel, message.message_id, exc)
    except Exception:
        logger.exception("%s update %s dropped after an error", message.channel, message.message_id)
    else:
        outage.recovered()
    finally:
        if marking is not None:
            await marking
    return True


async def report_depth(queue: object, observers: Sequence[Observer]) -> None:
    """Tell ``observers`` how deep each shard of ``queue`` is (``QueueDepth`` events).

    A queue without a ``depth()`` method (one of your own) reports nothing.
    """
    depth = getattr(queue, "depth", None)
    if depth is None or not observers:
        return
    for shard, pending, oldest in await depth():
        emit(observers, QueueDepth(shard, pending, oldest))


PAUSED_COUNTED = 10_000
"""Paused conversations counted for the ``Paused`` gauge at most (a scrape stays cheap)."""


async def report_paused(hq: Headquarters, observers: Sequence[Observer]) -> None:
    """Tell ``observers`` how many conversations a person answers (a ``Paused`` event).

    Counted from the store's paused index, so every process reports the same number; an
    entry whose pause is ending may count for a moment (docs/handoff.md).
    """
    if observers:
        emit(observers, Paused(len(await hq.store.paused(PAUSED_COUNTED))))


async def call_back(callback: Callable[[Any], Any], argument: Any) -> None:
    """Call a user's callback, sync or async."""
    result = callback(argument)
    if inspect.isawaitable(result):
        await result


async def redeliver_periodically(
    hq: Headquarters, every: float, stop: asyncio.Event, *, outage: OutageLog | None = None
) -> None:
    """Call ``hq.redeliver()`` every ``every`` seconds until ``stop`` is set.

    An unreachable store is reported to ``outage`` (one line per outage), not logged on
    every run.
    """
    outage = outage or OutageLog()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        try:
            sent = await hq.redeliver()
        except StoreUnavailableError as exc:
            outage.failed(exc)
        except Exception:
            logger.exception("periodic redeliver failed")
        else:
            outage.recovered()
            if sent:
                logger.info("redelivered %d replies", sent)

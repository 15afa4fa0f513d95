"""``ObservedMessenger``: a messenger's sends as events and spans, the messenger untouched.

The Headquarters' delivery sends through it; each call reports a
:class:`~flowhq.observability.events.Sent` (its result and the channel's error code) and is
a ``<channel>.send`` span (``whatsapp.send``). Every other attribute (``service_window``,
``acknowledge``, ``check_flows``, ``aclose``) is the wrapped messenger's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from flowhq.errors import DeliveryError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.messenger import Messenger
from flowhq.messaging.types import OutboundMessage
from flowhq.observability import tracing
from flowhq.observability.events import Observer, Sent, emit

__all__ = ["ObservedMessenger"]


class ObservedMessenger:
    """Wraps ``messenger`` so that its sends are observed (see the module docs).

    Args:
        messenger: The messenger that sends.
        observers: Told about each send (the Headquarters' list: observers attached later
            are seen too).
    """

    def __init__(self, messenger: Messenger, observers: Sequence[Observer]) -> None:
        self.wrapped = messenger
        self.observers = observers

    def __repr__(self) -> str:
        return f"ObservedMessenger({self.wrapped!r})"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        """Send through the wrapped messenger; report the result, re-raise its errors."""
        if not self.observers and not tracing.active():
            await self.wrapped.send(key, messages)
            return
        started = time.perf_counter()
        result, code = "error", None
        with tracing.span(f"{key.channel}.send", {"messages": len(messages)}) as span:
            try:
                await self.wrapped.send(key, messages)
                result = "sent"
            except DeliveryError as exc:
                result, code = ("permanent" if exc.permanent else "temporary"), exc.code
                raise
            except asyncio.CancelledError:
                result = "cancelled"
                raise
            finally:
                attributes: dict[str, str | int] = {"result": result}
                if code is not None:
                    attributes["error.code"] = code
                tracing.set_attributes(span, attributes)
                if self.observers:
                    emit(self.observers, Sent(result, code, len(messages), _since(started)))


def _since(started: float) -> float:
    return time.perf_counter() - started

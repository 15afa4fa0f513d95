"""The messenger seam: how replies leave, plus console and recording messengers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import OutboundMessage

__all__ = ["ConsoleMessenger", "Messenger", "RecordingMessenger"]


class Messenger(Protocol):
    """Delivers replies to a user. Called only after the step that produced them committed.

    Raising means "not (all) delivered". A :class:`~flowhq.errors.DeliveryError` says how
    many messages went out before the failure and whether retrying can help; any other
    exception counts as a temporary failure of the whole batch. Replies not delivered stay
    in the outbox and are sent again by the next handling of the conversation or by
    ``Headquarters.redeliver()`` (at-least-once); permanently refused ones are dropped and
    recorded in the conversation.

    Optional members a messenger may have: ``service_window`` (seconds after the user's
    last message during which replies may be sent; later only their templates go, and
    replies without one are recorded as undeliverable and never sent), ``window_codes``
    (the channel's error codes meaning the window closed: such a refusal is recorded the
    same way), ``check_flows(flows)`` (problems its channel has with the flows),
    ``acknowledge(message_id)`` (mark an inbound message read) and ``aclose()``.
    """

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        """Deliver ``messages``, in order, to the user of ``key``."""
        ...


class RecordingMessenger:
    """Keeps every delivered message in memory; handy in tests and demos.

    Args:
        service_window: Behave like a channel that only answers this many seconds after
            the user's last message (``None``: always).
    """

    def __init__(self, *, service_window: float | None = None) -> None:
        self.sent: list[tuple[ConversationKey, OutboundMessage]] = []
        self.service_window = service_window

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        """Record ``messages`` for ``key``."""
        self.sent.extend((key, message) for message in messages)

    def texts(self, key: ConversationKey | None = None) -> list[str]:
        """Return the texts sent so far, optionally only those for ``key``."""
        return [m.text for k, m in self.sent if key is None or k == key]


class ConsoleMessenger:
    """Prints replies, prefixed like a chat transcript."""

    def __init__(self, write: Callable[[str], object] = print, *, prefix: str = "bot> ") -> None:
        self._write = write
        self._prefix = prefix

    async def send(self, key: ConversationKey, messages: Sequence[OutboundMessage]) -> None:
        """Print ``messages``."""
        for message in messages:
            self._write(self._prefix + message.plain_text())

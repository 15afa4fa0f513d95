"""What the groups of ``Headquarters``' calls share: its rooms and the commit under a lock.

``Headquarters`` (headquarters.py) is the public front. Its calls about time
(:mod:`flowhq.runtime.time_calls`) and about people taking over
(:mod:`flowhq.runtime.handoff_calls`) live beside the rooms they use, on this base; see
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Awaitable

from flowhq.messaging.key import ConversationKey
from flowhq.observability import logs
from flowhq.observability.events import Observer
from flowhq.persistence.store import Store
from flowhq.runtime.conversations import Conversations, Transaction
from flowhq.runtime.delivery import Delivery, Undeliverable
from flowhq.runtime.desk import HandoffDesk
from flowhq.runtime.intake import Intake
from flowhq.runtime.records import Outcome
from flowhq.runtime.settings import Clock, Limits
from flowhq.runtime.step import Stepper
from flowhq.runtime.timekeeper import Timekeeper
from flowhq.statecharts.flow import Flow

__all__ = ["Front", "result_of"]


class Front:
    """The rooms behind the public calls (``Headquarters.__init__`` sets them)."""

    flows: dict[str, type[Flow]]
    store: Store
    limits: Limits
    clock: Clock
    observers: list[Observer]
    _intake: Intake
    _stepper: Stepper
    _conversations: Conversations
    _delivery: Delivery
    _desk: HandoffDesk
    _timekeeper: Timekeeper

    @property
    def entry(self) -> str:
        """The name of the flow a new conversation starts."""
        return self._stepper.entry

    @property
    def on_undeliverable(self) -> Undeliverable | None:
        """Told about replies that cannot be sent at all: ``(key, messages, reason)``.

        Settable after construction (``webhook_app(on_undeliverable=...)`` sets it).
        """
        return self._delivery.on_undeliverable

    @on_undeliverable.setter
    def on_undeliverable(self, hook: Undeliverable | None) -> None:
        self._delivery.on_undeliverable = hook

    async def _commit(self, key: ConversationKey, transaction: Awaitable[Transaction]) -> Outcome:
        """Run a transaction of ``key`` under its lock and send what it committed."""
        with logs.conversation(key):
            async with self._conversations.lock(key):
                done = await transaction
                if done.committed is not None:
                    delivered = await self._delivery.after_commit(key, done.committed)
                    done.outcome.delivered = delivered
            return done.outcome


def result_of(outcome: Outcome) -> str:
    """What handling a message came to, in one word (the metrics' ``outcome`` label)."""
    if outcome.rejected:
        return "rejected"
    return "duplicate" if outcome.duplicate else "processed"

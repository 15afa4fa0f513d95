"""The help desk's side of a handoff: telling it about messages, listing paused conversations.

See docs/handoff.md. The pausing and resuming themselves are steps (:mod:`flowhq.runtime.handoff`
and the turns); this room only calls the backend's ``on_handoff`` after a commit and reads the
paused index, checking each conversation it names.
"""

from __future__ import annotations

import copy
import inspect
import logging
import time
from collections.abc import Awaitable, Callable

from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage
from flowhq.persistence.store import Store
from flowhq.runtime.records import PausedConversation
from flowhq.state.document import ConversationDocument, TranscriptEntry

__all__ = ["STALE_AFTER", "HandoffDesk", "OnHandoff"]

logger = logging.getLogger("flowhq.handoff")

STALE_AFTER = 60.0
"""Seconds after which a paused index entry whose document is not paused is removed."""

OnHandoff = Callable[
    [ConversationKey, InboundMessage, list[TranscriptEntry]], "Awaitable[None] | None"
]
"""Called after a message to a paused conversation was committed (sync or async)."""


class HandoffDesk:
    """Tells the backend about messages a person must answer; lists paused conversations.

    Args:
        store: Where conversations and the paused index live.
        on_handoff: The backend's hook (``None``: the transcript is the only record).
    """

    def __init__(self, store: Store, on_handoff: OnHandoff | None) -> None:
        self.store = store
        self.on_handoff = on_handoff

    async def notify(
        self, key: ConversationKey, inbound: InboundMessage, document: ConversationDocument
    ) -> None:
        """Hand a committed message of a paused conversation to ``on_handoff``.

        The message is already kept in the transcript: a hook that fails loses nothing; it
        is logged (without the text) and the message waits there for the person.
        """
        if self.on_handoff is None:
            return
        transcript = copy.deepcopy(document.transcript)
        try:
            called = self.on_handoff(key, inbound, transcript)
            if inspect.isawaitable(called):
                await called
        except Exception as exc:
            logger.error(
                "%s: on_handoff failed for message %s (%s); it is kept in the transcript",
                key,
                inbound.message_id,
                type(exc).__name__,
                exc_info=exc,
            )

    async def paused(self, limit: int) -> list[PausedConversation]:
        """The paused conversations, newest pause first (index entries checked, stale removed)."""
        found: list[PausedConversation] = []
        for key, since in await self.store.paused(limit):
            document = (await self.store.load(key)).document
            if document is None or document.paused is None:
                # A pause whose commit lost, or one that ended: forgotten once it is old
                # enough that its commit cannot still be on the way.
                if since < time.time() - STALE_AFTER:
                    await self.store.mark_paused(key, None)
                continue
            paused = document.paused
            found.append(
                PausedConversation(
                    channel=key.channel,
                    identifier=key.identifier,
                    since=paused.since,
                    reason=paused.reason,
                    state=paused.state,
                    flow=document.current.path,
                    last_inbound_at=document.metadata.last_inbound_at,
                    waiting=_unanswered(document.transcript),
                )
            )
        return found


def _unanswered(transcript: list[TranscriptEntry]) -> int:
    count = 0
    for entry in reversed(transcript):
        if entry.direction != "in":
            break
        count += 1
    return count

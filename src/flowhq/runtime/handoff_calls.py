"""``Headquarters``' calls for people taking over a conversation (docs/handoff.md)."""

from __future__ import annotations

from flowhq.messaging.types import OutboundMessage
from flowhq.runtime import intake
from flowhq.runtime.front import Front
from flowhq.runtime.records import Outcome, PausedConversation
from flowhq.state.document import TranscriptEntry

__all__ = ["HandoffCalls"]


class HandoffCalls(Front):
    """``pause``, ``resume``, ``reply_as_agent``, ``transcript``, ``paused_conversations``."""

    async def pause(self, channel: str, identifier: str, *, reason: str | None = None) -> Outcome:
        """Pause the bot for this conversation wherever it stands: a person answers it.

        While paused, the user's messages are kept in the transcript and handed to
        ``on_handoff``; the bot answers nothing and its timers wait. Pausing a paused
        conversation changes nothing.
        """
        key = self._intake.key(channel, identifier)
        return await self._commit(key, self._conversations.pause(key, reason))

    async def resume(self, channel: str, identifier: str, result: str = "resumed") -> Outcome:
        """Give a paused conversation back to the bot.

        Waiting in a ``Handoff`` state, the flow goes on with ``result`` (one the state
        declares). Paused elsewhere, the waiting question is asked again, saved values
        intact. Resuming a conversation that is not paused changes nothing (two people
        pressing resume at once resume it once).

        Raises:
            InputError: ``result`` is not one the ``Handoff`` state declares, or a result
                other than ``resumed`` where no ``Handoff`` waits.
        """
        key = self._intake.key(channel, identifier)
        return await self._commit(key, self._conversations.unpause(key, result))

    async def reply_as_agent(
        self, channel: str, identifier: str, text: str, *, agent: str | None = None
    ) -> Outcome:
        """Send ``text`` from a person, through the outbox like any reply.

        It leaves after its commit, exactly once, is kept in the transcript with ``agent``,
        and follows the channel's rules (outside WhatsApp's 24-hour window it is not sent:
        ``on_undeliverable`` is told).

        Raises:
            InputError: an empty text, or one longer than ``Limits.max_text``.
        """
        key = self._intake.key(channel, identifier)
        reply = OutboundMessage(intake.agent_text(text, self.limits.max_text))
        if agent is not None:
            intake.check_text(agent, "the agent's name")
        return await self._commit(key, self._conversations.agent_reply(key, reply, agent))

    async def transcript(self, channel: str, identifier: str) -> list[TranscriptEntry]:
        """The conversation's newest messages both ways, oldest first (copies)."""
        loaded = await self.store.load(self._intake.key(channel, identifier))
        return list(loaded.document.transcript) if loaded.document is not None else []

    async def paused_conversations(self, *, limit: int = 100) -> list[PausedConversation]:
        """The conversations a person answers, the most recently paused first."""
        return await self._desk.paused(limit)

"""One turn of a conversation: a loaded document in, the next document and its replies out.

A turn makes the working copy of the document, runs the step (:mod:`flowhq.runtime.step`),
keeps a rolled-back step's conversation where it was with an apology, and does the
bookkeeping every commit carries: the processed message id, the outbox entries, the
timestamps. It reads no store and sends nothing (docs/architecture.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from attrs import define, field, frozen

from flowhq.components.error_handler import ErrorHandler
from flowhq.errors import ConversationInProgressError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.persistence.codec import Codec
from flowhq.persistence.store import Loaded
from flowhq.runtime import handoff, timers
from flowhq.runtime.outbox import entries_of, pending
from flowhq.runtime.records import Outcome, StepRecord
from flowhq.runtime.step import RollbackError, Stepper, StepResult
from flowhq.state.document import Channel, ConversationDocument, Timer
from flowhq.state.manager import record

__all__ = ["INBOX_SIZE", "Planned", "Start", "Turns"]

INBOX_SIZE = 64
"""How many processed message ids a conversation remembers for deduplication."""


@define
class Planned:
    """What a turn decided: the document to commit (``None``: nothing) and its outcome."""

    document: ConversationDocument | None
    outcome: Outcome
    record: StepRecord | None = None


@frozen
class Start:
    """A flow to begin, the values it starts with, and what becomes of a flow in progress.

    ``interrupt`` runs the new flow on top of it; ``replace`` leaves it; neither refuses.
    """

    flow: str
    values: Mapping[str, Any] = field(factory=dict)
    interrupt: bool = False
    replace: bool = False


Run = Callable[[ConversationDocument], Awaitable[StepResult | None]]
"""Runs a step over the working copy; ``None`` when there was nothing to do."""


class Turns:
    """Plans the turns of one Headquarters' conversations.

    Args:
        stepper: Runs the charts.
        codec: Decodes a stored document again when a step rolls back.
        error_handler: Decides on errors that roll a step back.
        keeps_outbox: Replies wait in the outbox for a messenger (else they are only
            handed back in the ``Outcome``).
        transcript: How many messages each conversation's transcript keeps (0: none,
            except while paused).
    """

    def __init__(
        self,
        stepper: Stepper,
        *,
        codec: Codec,
        error_handler: ErrorHandler,
        keeps_outbox: bool,
        transcript: int = 0,
    ) -> None:
        self.stepper = stepper
        self.codec = codec
        self.error_handler = error_handler
        self.keeps_outbox = keeps_outbox
        self.transcript = transcript

    async def answer(
        self, key: ConversationKey, loaded: Loaded, inbound: InboundMessage
    ) -> Planned:
        """The turn of an inbound message; a message seen before plans nothing."""
        document = loaded.document
        if document is not None and inbound.message_id in document.inbox:
            duplicate = Outcome(
                duplicate=True,
                revision=loaded.revision,
                flow=document.current.path,
                configuration=list(document.chart.configuration),
            )
            return Planned(None, duplicate)
        if document is not None and document.paused is not None:
            return self.hold(key, loaded, inbound)
        return await self.step(key, loaded, inbound=inbound)

    def hold(self, key: ConversationKey, loaded: Loaded, inbound: InboundMessage) -> Planned:
        """The turn of a message to a paused conversation: kept for the person, no step."""
        document = self.working_copy(key, loaded)
        self._bookkeep(document, loaded.revision, inbound, [])
        return Planned(document, self._where(document, paused=True))

    def pause(self, key: ConversationKey, loaded: Loaded, reason: str | None) -> Planned:
        """A turn that pauses the conversation where it stands (nothing if it is paused)."""
        if loaded.document is not None and loaded.document.paused is not None:
            return Planned(None, Outcome(revision=loaded.revision, paused=True))
        document = self.working_copy(key, loaded)
        handoff.pause(document, at=self._now(), reason=reason or "agent")
        document.metadata.updated_at = self._now()
        return Planned(document, self._where(document, paused=True))

    async def unpause(self, key: ConversationKey, loaded: Loaded, result: str) -> Planned:
        """The turn that gives a paused conversation back to the bot (nothing if it is not)."""
        if loaded.document is None or loaded.document.paused is None:
            return Planned(None, Outcome(revision=loaded.revision))

        async def run(document: ConversationDocument) -> StepResult:
            return await self.stepper.unpause(document, revision=loaded.revision, result=result)

        return await self._turn(key, loaded, run, inbound=None)

    def agent_reply(
        self, key: ConversationKey, loaded: Loaded, reply: OutboundMessage, agent: str | None
    ) -> Planned:
        """A turn that sends a person's ``reply`` through the outbox, noted with ``agent``."""
        document = self.working_copy(key, loaded)
        self._bookkeep(document, loaded.revision, None, [reply], agent=agent)
        outcome = self._where(document, paused=document.paused is not None)
        outcome.replies = [reply]
        return Planned(document, outcome)

    @staticmethod
    def _where(document: ConversationDocument, *, paused: bool) -> Outcome:
        return Outcome(
            flow=document.current.path,
            configuration=list(document.chart.configuration),
            paused=paused,
        )

    async def begin(self, key: ConversationKey, loaded: Loaded, start: Start) -> Planned:
        """The turn that begins a flow without an inbound message.

        Raises:
            ConversationInProgressError: the conversation is in a flow and ``start`` says
                neither ``interrupt`` nor ``replace``.
        """
        in_flow = loaded.document.current.path if loaded.document is not None else None
        paused = loaded.document is not None and loaded.document.paused is not None
        # A person who has the conversation gives way only to a replacing start.
        refused = paused or (in_flow is not None and not start.interrupt)
        if refused and not start.replace:
            raise ConversationInProgressError(str(key), in_flow or "(paused)")
        interrupt = start.interrupt and in_flow is not None

        async def run(document: ConversationDocument) -> StepResult:
            if paused:  # replacing what a person took over gives it back to the bot
                handoff.unpause(document)
            return await self.stepper.run(
                document,
                revision=loaded.revision,
                inbound=None,
                begin=start.flow,
                values=start.values,
                interrupt=interrupt,
            )

        return await self._turn(key, loaded, run, inbound=None)

    async def fire(self, key: ConversationKey, loaded: Loaded) -> Planned:
        """The turn that fires the conversation's due timers (nothing when none is due)."""
        if loaded.document is None:
            return Planned(None, Outcome())

        async def run(document: ConversationDocument) -> StepResult | None:
            return await self.stepper.fire(document, revision=loaded.revision)

        def drop_due(document: ConversationDocument) -> None:  # they must not fire again
            timers.take_due(document, self.stepper.clock().timestamp())

        return await self._turn(key, loaded, run, inbound=None, rolled_back=drop_due)

    def schedule(self, key: ConversationKey, loaded: Loaded, timer: Timer) -> Planned:
        """A turn that sets ``timer``, replacing one with the same id."""
        document = self.working_copy(key, loaded)
        document.timers = [t for t in document.timers if t.id != timer.id]
        if document.paused is not None:  # it waits for the resume, like the other timers
            held = document.paused.held
            held[:] = [t for t in held if t.id != timer.id]
            held.append(timer)
        else:
            document.timers.append(timer)
        document.metadata.updated_at = self._now()
        return Planned(document, Outcome(timer=timer.id))

    def cancel(self, key: ConversationKey, loaded: Loaded, timer_id: str) -> Planned:
        """A turn that removes the timer ``timer_id`` (nothing when there is none)."""
        stored = loaded.document
        held = stored.paused.held if stored is not None and stored.paused is not None else []
        if stored is None or all(t.id != timer_id for t in [*stored.timers, *held]):
            return Planned(None, Outcome())
        document = self.working_copy(key, loaded)
        document.timers = [t for t in document.timers if t.id != timer_id]
        if document.paused is not None:
            document.paused.held = [t for t in document.paused.held if t.id != timer_id]
        document.metadata.updated_at = self._now()
        return Planned(document, Outcome(timer=timer_id))

    def initialize(
        self, key: ConversationKey, loaded: Loaded, changes: Mapping[str, Any]
    ) -> Planned:
        """A turn that only sets protected state (``dashboard``, ``action``, ``token``)."""
        document = self.working_copy(key, loaded)
        if "dashboard" in changes:
            document.dashboard = changes["dashboard"]
        if "action" in changes:
            document.action = changes["action"]
        if "token" in changes:
            document.auth.token = changes["token"]
        for name in ("locale", "timezone"):  # saved values: a flow may change them later
            if name in changes:
                document.current.values[name] = changes[name]
        return Planned(document, Outcome())

    def working_copy(self, key: ConversationKey, loaded: Loaded) -> ConversationDocument:
        """The document a turn changes: the loaded one itself (it was decoded for us).

        A turn that rolls back gets a fresh copy through :meth:`pristine`.
        """
        if loaded.document is None:
            return ConversationDocument(channel=Channel(key.channel, key.identifier))
        document = loaded.document
        if loaded.marks():
            # The commit forgets the marks, so the outbox keeps exactly what is still to send
            # (a partly delivered commit keeps only its entries that did not go out).
            document.outbox = [p.entry for p in pending(loaded)]
            for revision, reason in sorted(loaded.failures.items()):
                record(document, "delivery", "-", False, f"revision {revision}: {reason}")
        return document

    def pristine(self, key: ConversationKey, loaded: Loaded) -> ConversationDocument:
        """An untouched working copy, decoded again from the stored bytes."""
        if loaded.document is None:
            return self.working_copy(key, Loaded(None))
        if loaded.raw is None:  # never start over a stored conversation by accident
            raise TypeError("the store's load() returned no raw bytes")
        copy = Loaded(
            self.codec.decode(str(key), loaded.raw),
            loaded.revision,
            loaded.delivered,
            loaded.progress,
            loaded.failures,
            stalled=loaded.stalled,
        )
        return self.working_copy(key, copy)

    async def step(
        self, key: ConversationKey, loaded: Loaded, *, inbound: InboundMessage
    ) -> Planned:
        """Run one step of ``inbound`` over the working copy."""

        async def run(document: ConversationDocument) -> StepResult:
            return await self.stepper.run(document, revision=loaded.revision, inbound=inbound)

        return await self._turn(key, loaded, run, inbound=inbound)

    async def _turn(
        self,
        key: ConversationKey,
        loaded: Loaded,
        run: Run,
        *,
        inbound: InboundMessage | None,
        rolled_back: Callable[[ConversationDocument], None] | None = None,
    ) -> Planned:
        """Run a step over the working copy; an unrecoverable one is rolled back.

        ``rolled_back`` adjusts the kept copy of a rolled-back step (timers that fired
        into an error leave anyway, or they would fire into it again and again).
        """
        document = self.working_copy(key, loaded)
        try:
            step = await run(document)
        except RollbackError as rollback:
            document = self.pristine(key, loaded)
            if rolled_back is not None:
                rolled_back(document)
            replies = [self._apology(rollback, document)]
            outcome = Outcome(
                replies=list(replies),
                flow=document.current.path,
                configuration=list(document.chart.configuration),
            )
            self._bookkeep(document, loaded.revision, inbound, replies)
            return Planned(document, outcome)
        if step is None:  # nothing was due: nothing to commit
            stored = loaded.document
            assert stored is not None
            return Planned(
                None,
                Outcome(
                    revision=loaded.revision,
                    flow=stored.current.path,
                    configuration=list(stored.chart.configuration),
                ),
            )
        outcome = Outcome(
            replies=list(step.replies),
            flow=step.flow,
            configuration=step.configuration,
            finished=step.finished,
            fired=list(step.timers),
            paused=document.paused is not None,
        )
        self._bookkeep(document, loaded.revision, inbound, step.replies)
        return Planned(document, outcome, step.record)

    def _apology(self, rollback: RollbackError, document: ConversationDocument) -> OutboundMessage:
        """Record a rolled-back step's error on the kept copy; the apology the user gets."""
        handler = self.error_handler
        if rollback.decision is not None:
            handler.record(rollback.error, component=rollback.component, document=document)
            decision = rollback.decision
        else:
            decision = handler.handle(
                rollback.error, component=rollback.component, document=document, handles_error=False
            )
        apology = decision.apology or handler.apology
        return OutboundMessage(self.stepper.speech(document).gettext(apology))

    def _now(self) -> str:
        return self.stepper.clock().isoformat(timespec="microseconds")

    def _bookkeep(
        self,
        document: ConversationDocument,
        revision: int,
        inbound: InboundMessage | None,
        replies: list[OutboundMessage],
        *,
        agent: str | None = None,
    ) -> None:
        """What every commit carries: the message id, the outbox entries, the timestamps.

        ``agent`` names the person who wrote ``replies`` (``reply_as_agent``).
        """
        now = self._now()
        if inbound is not None:
            document.inbox.append(inbound.message_id)
            if len(document.inbox) > INBOX_SIZE:
                del document.inbox[:-INBOX_SIZE]
            document.metadata.last_inbound_at = now
            handoff.note_inbound(document, inbound, at=now, limit=self.transcript)
        if replies:
            handoff.note_outbound(document, replies, at=now, limit=self.transcript, agent=agent)
        if self.keeps_outbox:
            document.outbox.extend(
                entries_of(
                    replies,
                    revision=revision + 1,
                    queued_at=time.time(),
                    message_id=inbound.message_id if inbound is not None else None,
                )
            )
        document.metadata.updated_at = now

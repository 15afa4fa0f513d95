"""One turn of a conversation: a loaded document in, the next document and its replies out.

A turn makes the working copy of the document, runs the step (:mod:`flowhq.runtime.step`),
keeps a rolled-back step's conversation where it was with an apology, and does the
bookkeeping every commit carries: the processed message id, the outbox entries, the
timestamps. It reads no store and sends nothing (docs/architecture.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from attrs import define

from flowhq.components.error_handler import ErrorHandler
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.persistence.codec import Codec
from flowhq.persistence.store import Loaded
from flowhq.runtime.outbox import entries_of, pending
from flowhq.runtime.records import Outcome, StepRecord
from flowhq.runtime.step import RollbackError, Stepper
from flowhq.state.document import Channel, ConversationDocument, utc_now
from flowhq.state.manager import record

__all__ = ["INBOX_SIZE", "Planned", "Turns"]

INBOX_SIZE = 64
"""How many processed message ids a conversation remembers for deduplication."""


@define
class Planned:
    """What a turn decided: the document to commit (``None``: nothing) and its outcome."""

    document: ConversationDocument | None
    outcome: Outcome
    record: StepRecord | None = None


class Turns:
    """Plans the turns of one Headquarters' conversations.

    Args:
        stepper: Runs the charts.
        codec: Decodes a stored document again when a step rolls back.
        error_handler: Decides on errors that roll a step back.
        keeps_outbox: Replies wait in the outbox for a messenger (else they are only
            handed back in the ``Outcome``).
    """

    def __init__(
        self, stepper: Stepper, *, codec: Codec, error_handler: ErrorHandler, keeps_outbox: bool
    ) -> None:
        self.stepper = stepper
        self.codec = codec
        self.error_handler = error_handler
        self.keeps_outbox = keeps_outbox

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
        return await self.step(key, loaded, inbound=inbound)

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
        )
        return self.working_copy(key, copy)

    async def step(
        self,
        key: ConversationKey,
        loaded: Loaded,
        *,
        inbound: InboundMessage | None,
        begin: str | None = None,
    ) -> Planned:
        """Run one step over the working copy; an unrecoverable one is rolled back."""
        document = self.working_copy(key, loaded)
        try:
            step = await self.stepper.run(
                document, revision=loaded.revision, inbound=inbound, begin=begin
            )
        except RollbackError as rollback:
            document = self.pristine(key, loaded)
            replies = [self._apology(rollback, document)]
            outcome = Outcome(
                replies=list(replies),
                flow=document.current.path,
                configuration=list(document.chart.configuration),
            )
            self._bookkeep(document, loaded.revision, inbound, replies)
            return Planned(document, outcome)
        outcome = Outcome(
            replies=list(step.replies),
            flow=step.flow,
            configuration=step.configuration,
            finished=step.finished,
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
        return OutboundMessage(decision.apology or handler.apology)

    def _bookkeep(
        self,
        document: ConversationDocument,
        revision: int,
        inbound: InboundMessage | None,
        replies: list[OutboundMessage],
    ) -> None:
        """What every commit carries: the message id, the outbox entries, the timestamps."""
        now = utc_now()
        if inbound is not None:
            document.inbox.append(inbound.message_id)
            if len(document.inbox) > INBOX_SIZE:
                del document.inbox[:-INBOX_SIZE]
            document.metadata.last_inbound_at = now
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

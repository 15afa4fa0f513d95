"""Pausing a conversation for a person, and its transcript (docs/handoff.md).

Pure functions over the conversation document, called by the step and the turns: they read
no store and send nothing. While a conversation is paused its timers are held aside (a
question's timeout must not fire while a person talks), except those a ``Handoff`` state arms
for itself; resuming gives them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.runtime import timers
from flowhq.state.document import ConversationDocument, Paused, TranscriptEntry
from flowhq.state.secrets import redact

__all__ = [
    "PAUSED_TRANSCRIPT",
    "describe",
    "note_inbound",
    "note_outbound",
    "pause",
    "since",
    "unpause",
]

PAUSED_TRANSCRIPT = 50
"""Messages kept while paused when the transcript is otherwise off (a person needs them)."""


def pause(
    document: ConversationDocument, *, at: str, reason: str | None, state: str | None = None
) -> bool:
    """Pause ``document`` (``state``: the ``Handoff`` that paused it); ``False`` if it was.

    The timers set so far are held until the conversation resumes.
    """
    if document.paused is not None:
        return False
    document.paused = Paused(since=at, reason=reason, state=state, held=document.timers)
    document.timers = []
    return True


def unpause(document: ConversationDocument) -> Paused | None:
    """Resume ``document``: the backend's held timers come back; the pause is returned.

    A held question's timers do not come back as they were: the caller arms them again for
    the question it asks again (``Paused.held`` tells which reminders went out already).
    """
    paused = document.paused
    if paused is None:
        return None
    document.paused = None
    kept = {timer.id for timer in document.timers}
    document.timers += [
        timer
        for timer in paused.held
        if timer.kind not in timers.VISIT_KINDS and timer.id not in kept
    ]
    return paused


def since(paused: Paused) -> float:
    """When the conversation paused, in epoch seconds."""
    return datetime.fromisoformat(paused.since).timestamp()


def describe(inbound: InboundMessage) -> tuple[str, str]:
    """The kind and text of ``inbound`` as a person reads it in the transcript."""
    if inbound.payload is not None:
        return "button", inbound.title or inbound.text or inbound.payload
    if inbound.media is not None:
        return inbound.kind, inbound.media.caption or inbound.media.filename or ""
    if inbound.location is not None:
        place = inbound.location
        where = ", ".join(part for part in (place.name, place.address) if part)
        return "location", where or f"{place.latitude:.5f}, {place.longitude:.5f}"
    return inbound.kind, inbound.text or ""


def note_inbound(
    document: ConversationDocument, inbound: InboundMessage, *, at: str, limit: int
) -> None:
    """Keep ``inbound`` in the transcript (bounded to the newest ``limit``)."""
    kind, text = describe(inbound)
    entry = TranscriptEntry(at, "in", text, kind=kind, message_id=inbound.message_id)
    _keep(document, [entry], limit)


def note_outbound(
    document: ConversationDocument,
    messages: Iterable[OutboundMessage],
    *,
    at: str,
    limit: int,
    agent: str | None = None,
) -> None:
    """Keep replies (the bot's, or ``agent``'s) in the transcript."""
    entries = [TranscriptEntry(at, "out", message.text, agent=agent) for message in messages]
    _keep(document, entries, limit)


def _keep(document: ConversationDocument, entries: list[TranscriptEntry], limit: int) -> None:
    """Append ``entries``, the token redacted, keeping the newest ``limit``.

    With the transcript off (``limit`` 0) a paused conversation still keeps its messages:
    the person answering needs them.
    """
    if not limit and document.paused is None:
        if document.transcript:  # the pause ended: what it kept goes
            document.transcript = []
        return
    bound = limit or PAUSED_TRANSCRIPT
    token = document.auth.token
    for entry in entries:
        entry.text = redact(entry.text, token)
    transcript = document.transcript
    transcript += entries
    if len(transcript) > bound:
        del transcript[:-bound]

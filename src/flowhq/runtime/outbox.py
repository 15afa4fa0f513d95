"""The outbox: replies committed with the state, waiting to be sent (docs/architecture.md).

Each commit's replies become outbox entries tagged with its revision. Delivery marks in the
store say which went out; :func:`pending` reads the two together. This module is the one
place an ``OutboundMessage`` becomes an ``OutboxEntry`` and back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import frozen

from flowhq.messaging.types import Media, OutboundMessage, Template
from flowhq.persistence.store import Loaded
from flowhq.state.document import OutboxEntry

__all__ = ["Pending", "entries_of", "message_of", "pending"]


@frozen
class Pending:
    """An outbox entry due for sending, with its position among its commit's entries."""

    entry: OutboxEntry
    seq: int

    @property
    def revision(self) -> int:
        """The revision of the commit that produced it."""
        return self.entry.revision


def pending(loaded: Loaded) -> list[Pending]:
    """The outbox entries of ``loaded`` not yet delivered, in commit order."""
    document = loaded.document
    if document is None:
        return []
    seen: dict[int, int] = {}
    found: list[Pending] = []
    done = loaded.delivered | frozenset(loaded.failures)
    for entry in document.outbox:
        seq = seen.get(entry.revision, 0)
        seen[entry.revision] = seq + 1
        if entry.revision in done or seq < loaded.progress.get(entry.revision, 0):
            continue
        found.append(Pending(entry, seq))
    return found


def message_of(entry: OutboxEntry, *, seq: int | None = None) -> OutboundMessage:
    """The outbound message an outbox entry holds.

    ``seq``, the entry's place among its commit's entries, makes the message's ``ref``.
    """
    template, media = entry.extra.get("template"), entry.extra.get("media")
    return OutboundMessage(
        entry.text,
        entry.buttons,
        tag=entry.tag,
        descriptions=entry.descriptions,
        menu_label=entry.menu_label,
        offset=entry.offset,
        template=Template.from_dict(template) if isinstance(template, dict) else None,
        media=Media.from_dict(media) if isinstance(media, dict) else None,
        request_location=entry.extra.get("request_location") is True,
        quote=_text(entry.extra.get("quote")),
        header=_text(entry.extra.get("header")),
        footer=_text(entry.extra.get("footer")),
        more_label=_text(entry.extra.get("more_label")),
        ref=None if seq is None else f"{entry.revision}.{seq}",
    )


# What an outbox entry keeps in columns of its own; the rest of the reply goes to ``extra``.
_COLUMNS = frozenset({"text", "buttons", "tag", "descriptions", "menu_label", "offset"})


def _extra(reply: OutboundMessage) -> dict[str, Any]:
    """The parts of ``reply`` without a column (template, media, quote, ...), as ``extra``.

    Taken from ``reply.to_dict()``, so a part added to messages is kept by the outbox too.
    """
    return {key: value for key, value in reply.to_dict().items() if key not in _COLUMNS}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def entries_of(
    replies: Iterable[OutboundMessage],
    *,
    revision: int,
    queued_at: float,
    message_id: str | None,
) -> list[OutboxEntry]:
    """Outbox entries for the replies of the commit that will have ``revision``.

    ``message_id`` is the inbound message they answer (``None`` for a start without one).
    """
    return [
        OutboxEntry(
            revision,
            reply.text,
            list(reply.buttons),
            queued_at,
            reply.tag,
            list(reply.descriptions),
            reply.menu_label,
            reply.offset,
            message_id,
            _extra(reply),
        )
        for reply in replies
    ]

"""What a store accepts as a stored conversation: the ranges of what flowhq itself writes.

The codec checks types; this module checks the values flowhq writes and later computes
with, so a corrupt or hand-edited conversation is refused at load (``SnapshotError``) instead
of misleading the step: a negative revision once made the question-tag encoding loop forever.
Every rule here is one the writers keep (see docs/persistence.md, "What is guaranteed");
values that components and users choose (saved values, reply texts) are only type-checked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime

from flowhq.state.document import ConversationDocument

__all__ = [
    "MAX_COUNT",
    "MAX_FAILURE_REASON",
    "document_problem",
    "parse_count",
]

MAX_COUNT = 10**18 - 1
"""Largest revision or counter a conversation may hold.

Eighteen decimal digits: well inside Redis's 64-bit integers (``HINCRBY``), and the next
revision still fits a 12-digit base-36 question tag. No conversation gets near it.
"""

MAX_FAILURE_REASON = 500
"""Longest stored reason of a permanent delivery failure, in characters."""

_COUNT = re.compile(rb"[1-9][0-9]{0,17}")
_TAG = re.compile(r"[0-9a-z]{1,12}")


def parse_count(text: bytes) -> int | None:
    """The number ``text`` spells in canonical decimal (1 to ``MAX_COUNT``), else ``None``.

    Canonical only: ``int()`` would also take ``" 5"``, ``"+5"``, ``"0_5"`` and ``"05"``, and
    the commit script compares revisions as strings, so ``"05"`` would conflict forever.
    """
    return int(text) if _COUNT.fullmatch(text) else None


def _timestamp(value: str | None) -> bool:
    if value is None:
        return True
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _usable_token(token: str) -> bool:
    """What ``normalize_token`` lets in: not blank, no control or invisible characters."""
    if not token.strip():
        return False
    return token.isprintable() or not any(unicodedata.category(ch).startswith("C") for ch in token)


def document_problem(document: ConversationDocument) -> str | None:
    """The first value of ``document`` out of the range flowhq writes, or ``None``.

    Type errors are the codec's; this looks at counters, revisions, tags, timestamps and the
    auth token, which the step computes with or sends on.
    """
    return next(_problems(document), None)


def _problems(document: ConversationDocument) -> Iterator[str]:
    for operation, attempts in document.validation.attempts.items():
        if not 0 <= attempts <= MAX_COUNT:
            yield f"validation.attempts[{operation!r}]: {attempts} is not a count"
    for state_id, tag in document.current.tags.items():
        if not _TAG.fullmatch(tag):
            yield f"current.tags[{state_id!r}]: {tag[:20]!r} is not a question tag"
    for n, entry in enumerate(document.outbox):
        if not 1 <= entry.revision <= MAX_COUNT:
            yield f"outbox[{n}].revision: {entry.revision} is not a revision"
        if entry.queued_at < 0:
            yield f"outbox[{n}].queued_at: {entry.queued_at} is before 1970"
    metadata = document.metadata
    if metadata.upgraded_from not in (None, 1):  # only schema 1's upgrade waits for a flow
        yield f"_metadata.upgraded_from: {metadata.upgraded_from} is not an upgrade in progress"
    for name in ("initialized_at", "updated_at", "last_inbound_at"):
        value = getattr(metadata, name)
        if not _timestamp(value):
            yield f"_metadata.{name}: {value[:40]!r} is not an ISO-8601 time with a zone"
    if document.paused is not None and not _timestamp(document.paused.since):
        yield f"paused.since: {document.paused.since[:40]!r} is not an ISO-8601 time with a zone"
    token = document.auth.token
    if token is not None and not _usable_token(token):
        yield "auth.token: blank or holding control characters"

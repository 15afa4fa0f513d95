"""Log context: every line logged while a conversation is handled says which, pseudonymised.

While ``Headquarters`` handles a conversation, flowhq's log records carry three extra
attributes: ``conversation`` (the :func:`~flowhq.observability.hashing.hashed` key),
``flow`` and ``state`` (the active states, comma-separated). A JSON formatter (see
docs/operations.md) prints them as fields. At INFO and above, a conversation key or a
phone number among a record's arguments is replaced by ``channel:#hash``: identifiers stay
out of the logs operators ship elsewhere; DEBUG lines keep them for local debugging.

The filter doing this sits on flowhq's own loggers (:data:`LOGGERS`), installed when this
module is imported; records of other libraries are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

from attrs import define, field

from flowhq.messaging.key import ConversationKey
from flowhq.observability.hashing import hashed

__all__ = ["LOGGERS", "ConversationFilter", "LogContext", "bind", "conversation", "install"]

LOGGERS = (
    "flowhq.channels.whatsapp",
    "flowhq.components",
    "flowhq.delivery",
    "flowhq.dev",
    "flowhq.errors",
    "flowhq.handoff",
    "flowhq.headquarters",
    "flowhq.i18n",
    "flowhq.inbox",
    "flowhq.observability",
    "flowhq.persistence",
    "flowhq.timers",
)
"""flowhq's loggers (a test checks every ``getLogger`` in the package is listed)."""

_PHONE = re.compile(r"\+?\d{7,15}")


@define
class LogContext:
    """The conversation being handled, as log records show it.

    Attributes:
        conversation: The hashed key.
        flow: Its flow, once known.
        state: Its active states, comma-separated, once known.
    """

    conversation: str
    flow: str | None = None
    state: str | None = None
    key: ConversationKey | None = field(default=None, repr=False, eq=False)


_current: ContextVar[LogContext | None] = ContextVar("flowhq_log_context", default=None)


@contextlib.contextmanager
def conversation(key: ConversationKey) -> Iterator[LogContext]:
    """Records logged in the block carry ``key``'s context (nested blocks restore it)."""
    context = LogContext(hashed(key), key=key)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def bind(flow: str | None, configuration: Sequence[str]) -> None:
    """Record where the conversation being handled stands (a no-op outside one)."""
    context = _current.get()
    if context is not None:
        context.flow = flow
        context.state = ",".join(configuration) or None


def _pseudonym(value: object, key: ConversationKey | None) -> object:
    if isinstance(value, ConversationKey):
        return f"{value.channel}:#{hashed(value)}"
    if not isinstance(value, str):
        return value
    if key is not None and value == key.identifier:  # the same pseudonym as the key's
        return f"{key.channel}:#{hashed(key)}"
    return f"#{hashed(value)}" if _PHONE.fullmatch(value) else value


class ConversationFilter(logging.Filter):
    """Adds ``conversation``, ``flow`` and ``state`` to records; hides identifiers at INFO+."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the context, pseudonymise the arguments; never drops a record."""
        context = _current.get()
        if context is not None:
            record.conversation = context.conversation
            record.flow = context.flow
            record.state = context.state
        if record.levelno >= logging.INFO and isinstance(record.args, tuple) and record.args:
            key = context.key if context is not None else None
            record.args = tuple(_pseudonym(arg, key) for arg in record.args)
        return True


_FILTER = ConversationFilter()


def install(names: Sequence[str] = LOGGERS) -> None:
    """Put the filter on the loggers ``names`` (idempotent; done for flowhq's at import)."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


install()

"""The one place where errors raised inside components are caught and decided on."""

from __future__ import annotations

import logging
import traceback

from attrs import frozen

from flowhq.state.document import ConversationDocument
from flowhq.state.manager import record_error
from flowhq.state.secrets import redact

__all__ = ["DEFAULT_APOLOGY", "ErrorDecision", "ErrorHandler"]

logger = logging.getLogger("flowhq.errors")

DEFAULT_APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


@frozen
class ErrorDecision:
    """What to do about an error: dispatch ``result``, or roll back and send ``apology``."""

    result: str | None
    apology: str | None


class ErrorHandler:
    """Records a component's error and decides where the conversation goes.

    When the failing state handles the ``error`` result, that result is dispatched; otherwise
    the step is rolled back and the user gets ``apology``. Replace it with
    ``Headquarters(error_handler=...)`` to change the wording or the recorded text. Each
    error is logged once, with the state, and never with the conversation's auth token.

    Args:
        apology: The short message the user sees when a step is rolled back.
    """

    def __init__(self, apology: str = DEFAULT_APOLOGY) -> None:
        self.apology = apology

    def describe(self, error: BaseException) -> str:
        """The text recorded in the validation history (type and message, no traceback)."""
        message = str(error)
        return f"{type(error).__name__}: {message}" if message else type(error).__name__

    def handle(
        self,
        error: Exception,
        *,
        component: str,
        document: ConversationDocument,
        handles_error: bool,
    ) -> ErrorDecision:
        """Log and record ``error`` raised in ``component``; return the decision."""
        token = document.auth.token
        details = redact("".join(traceback.format_exception(error)), token).rstrip()
        logger.error(
            "error in state %s of %s:%s (%s): %s\n%s",
            component,
            document.channel.type,
            document.channel.identifier,
            document.current.path,
            redact(self.describe(error), token),
            details,
        )
        self.record(error, component=component, document=document)
        return self.decide(handles_error)

    def record(self, error: Exception, *, component: str, document: ConversationDocument) -> None:
        """Record ``error`` in the conversation's validation history (no logging)."""
        record_error(document, component, self.describe(error))

    def decide(self, handles_error: bool) -> ErrorDecision:
        """Route to ``error`` when the state handles it, else roll back and apologise."""
        if handles_error:
            return ErrorDecision("error", None)
        return ErrorDecision(None, self.apology)

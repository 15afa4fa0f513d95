"""The one place where errors raised inside components are caught and decided on."""

from __future__ import annotations

import logging

from attrs import frozen

from flowhq.state.document import ConversationDocument
from flowhq.state.manager import record_error

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
    ``Headquarters(error_handler=...)`` to change the wording or the recorded text.

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
        logger.error(
            "error in component %s of %s:%s",
            component,
            document.channel.type,
            document.channel.identifier,
            exc_info=error,
        )
        record_error(document, component, self.describe(error))
        if handles_error:
            return ErrorDecision("error", None)
        return ErrorDecision(None, self.apology)

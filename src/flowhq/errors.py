"""The exceptions flowhq raises.

Every error shares one root, so ``except FlowError`` catches all of them::

    FlowError
     ├── FlowDefinitionError      a flow class is malformed (raised at class creation)
     ├── ValidationError          an answer failed a validator (ValueError)
     ├── StateAccessError         a component overstepped its boundary (PermissionError)
     ├── ConflictError            a commit lost the optimistic-locking race too often
     ├── ConversationInProgressError  start() over a conversation in a flow
     ├── SnapshotError            a stored document cannot be read (ValueError)
     ├── StoreUnavailableError    the store stays unreachable
     ├── InputError               an inbound message is malformed (ValueError)
     ├── StepLimitError           a step ran more transitions than the bound allows
     ├── MissingValueError        a template names a value the conversation does not have
     ├── ChannelError             a channel's webhook payload is malformed (ValueError)
     ├── TokenCipherError         a token key is malformed or cannot decrypt (ValueError)
     ├── GraphvizError            Graphviz's ``dot`` is missing or failed
     └── DeliveryError            a messenger could not deliver replies
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ChannelError",
    "ConflictError",
    "ConversationInProgressError",
    "DeliveryError",
    "FlowDefinitionError",
    "FlowError",
    "GraphvizError",
    "InputError",
    "MissingValueError",
    "SnapshotError",
    "StateAccessError",
    "StepLimitError",
    "StoreUnavailableError",
    "TokenCipherError",
    "ValidationError",
]


class FlowError(Exception):
    """Root of every error flowhq raises."""


class FlowDefinitionError(FlowError):
    """A flow class has structural problems.

    Attributes:
        flow: The name of the flow class.
        problems: One readable line per problem found.
    """

    def __init__(self, flow: str, problems: Sequence[str]) -> None:
        self.flow = flow
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"flow {flow} has {len(self.problems)} problem(s):\n{lines}")


class ValidationError(FlowError, ValueError):
    """An answer did not pass a validator; the message is shown to the user.

    Attributes:
        message: What the user should be told.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class StateAccessError(FlowError, PermissionError):
    """A component tried to read or write state outside its boundary.

    Attributes:
        component: The state id of the offending component.
        operation: What it tried to do.
    """

    def __init__(self, component: str, operation: str) -> None:
        self.component = component
        self.operation = operation
        super().__init__(f"component {component!r} may not {operation}")


class ConflictError(FlowError):
    """A commit kept losing the compare-and-set race and gave up.

    Attributes:
        key: The conversation key.
        expected: The revision the last attempt was based on.
        actual: The revision found in the store.
        attempts: How many attempts were made.
    """

    def __init__(self, key: str, expected: int, actual: int, attempts: int) -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        self.attempts = attempts
        super().__init__(
            f"conversation {key}: revision moved from {expected} to {actual}; "
            f"gave up after {attempts} attempts"
        )


class ConversationInProgressError(FlowError):
    """``start()`` found the conversation in a flow and was not told what to do with it.

    Pass ``interrupt=True`` to run the new flow on top (the conversation returns to its
    question when it ends) or ``replace=True`` to leave the flow in progress.

    Attributes:
        key: The conversation key.
        flow: The flow it is in.
    """

    def __init__(self, key: str, flow: str) -> None:
        self.key = key
        self.flow = flow
        super().__init__(
            f"conversation {key} is in flow {flow!r}: start(..., interrupt=True) runs the new "
            "flow on top of it, start(..., replace=True) leaves it"
        )


class SnapshotError(FlowError, ValueError):
    """A stored conversation document is corrupt or foreign.

    Attributes:
        key: The conversation key whose value could not be read.
    """

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"conversation {key}: unreadable stored document ({reason})")


class StoreUnavailableError(FlowError):
    """The store could not be reached within the configured retries and timeout."""


class InputError(FlowError, ValueError):
    """An inbound message is malformed (empty identifier, unknown channel, ...)."""


class StepLimitError(FlowError):
    """One inbound message triggered more transitions than the step bound allows.

    Attributes:
        flow: The flow that looped.
        limit: The bound that was reached.
    """

    def __init__(self, flow: str, limit: int) -> None:
        self.flow = flow
        self.limit = limit
        super().__init__(
            f"flow {flow} took more than {limit} steps for one message; is it looping?"
        )


class ChannelError(FlowError, ValueError):
    """A channel's webhook payload is malformed; the message says what is wrong."""


class DeliveryError(FlowError):
    """A messenger could not deliver (all of) a batch of replies.

    Attributes:
        sent: How many messages of the batch were delivered before the failure, in order.
        permanent: ``True`` when retrying cannot help (the user is unreachable, the message
            is refused): the replies are dropped from the outbox and the failure recorded.
            ``False`` for throttling, timeouts and server errors: they stay and are retried.
        code: The channel's error code, if any (e.g. WhatsApp's 131047).
        reason: A short, secret-free description.
    """

    def __init__(
        self, reason: str, *, sent: int = 0, permanent: bool = False, code: int | None = None
    ) -> None:
        self.reason = reason
        self.sent = sent
        self.permanent = permanent
        self.code = code
        kind = "permanent" if permanent else "temporary"
        shown = f" (code {code})" if code is not None else ""
        super().__init__(f"{kind} delivery failure{shown}: {reason}")


class MissingValueError(FlowError, LookupError):
    """A template names a value the conversation does not have (yet).

    Attributes:
        name: The placeholder, e.g. ``email`` or ``dashboard.first_name``.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"template value {{{name}}} is missing")


class TokenCipherError(FlowError, ValueError):
    """A key is malformed, or a stored token cannot be decrypted with the configured keys."""


class GraphvizError(FlowError):
    """Graphviz's ``dot`` is missing or failed (SVG/PNG diagrams need it)."""

"""The conversation key: which user on which channel. Vocabulary every layer above shares."""

from __future__ import annotations

from attrs import frozen

from flowhq.errors import InputError

__all__ = ["ConversationKey"]


@frozen
class ConversationKey:
    """One user on one channel: the unit of persistence and of serialisation."""

    channel: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.identifier}"

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        """Parse ``CHANNEL:IDENTIFIER`` as typed on the command line.

        Raises:
            InputError: when either part is missing.
        """
        channel, sep, identifier = text.partition(":")
        if not sep or not channel or not identifier:
            raise InputError(f"expected CHANNEL:IDENTIFIER, got {text!r}")
        return cls(channel, identifier)

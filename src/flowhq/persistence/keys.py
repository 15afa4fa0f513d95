"""``KeyBuilder``: the one place a Redis key of flowhq is spelled.

Conversations and the update queue's streams, leases and worker heartbeats all take their
keys from here, so a deployment's prefix is honoured everywhere and a key's shape is
changed (or read back) in one place (see docs/architecture.md).

Every key carries a hash tag (the part in braces): what one Redis command or script touches
shares one cluster slot. A conversation's hash is tagged by the conversation; a shard's
stream and its lease are tagged by the shard number.
"""

from __future__ import annotations

import zlib

from attrs import frozen

from flowhq.messaging.key import ConversationKey

__all__ = ["KeyBuilder"]


@frozen
class KeyBuilder:
    """Builds and parses flowhq's Redis keys under one prefix.

    Args:
        prefix: The namespace every key starts with.
    """

    prefix: str = "flowhq"

    def key(self, conversation: ConversationKey) -> str:
        """``flowhq:{whatsapp:+15550001}``: the braces make the conversation the hash tag."""
        return f"{self.prefix}:{{{conversation.channel}:{conversation.identifier}}}"

    def pattern(self) -> str:
        """SCAN pattern matching every conversation key under the prefix."""
        return f"{self.prefix}:{{*}}"

    def parse(self, key: str) -> ConversationKey | None:
        """Return the conversation a key belongs to, or ``None`` for other keys."""
        head = f"{self.prefix}:{{"
        if not key.startswith(head) or not key.endswith("}"):
            return None
        channel, sep, identifier = key[len(head) : -1].partition(":")
        return ConversationKey(channel, identifier) if sep else None

    def updates(self, shard: int) -> str:
        """``flowhq:updates:{3}``: the stream of the update queue's shard ``shard``.

        The shard number is the hash tag, so a cluster spreads the shards over its masters.
        A conversation key never matches it: its tag holds a channel and an identifier.
        """
        return f"{self.prefix}:updates:{{{shard}}}"

    def lease(self, shard: int) -> str:
        """``flowhq:updates:{3}:lease``: which worker holds ``shard`` (same slot as its stream)."""
        return f"{self.updates(shard)}:lease"

    def workers(self) -> str:
        """``flowhq:updates:workers``: the sorted set of live workers' heartbeats."""
        return f"{self.prefix}:updates:workers"

    def timers(self, shard: int) -> str:
        """``flowhq:timers:{3}``: shard ``shard`` of the timer index (a sorted set).

        Members are conversations (:meth:`member`), scored by when their next timer is due.
        """
        return f"{self.prefix}:timers:{{{shard}}}"

    def paused(self) -> str:
        """``flowhq:paused``: the paused conversations (a sorted set scored by when).

        Members are conversations (:meth:`member`); it is an index readers check against
        each conversation's document, written beside the commit that pauses or resumes.
        """
        return f"{self.prefix}:paused"

    @staticmethod
    def member(conversation: ConversationKey) -> str:
        """``whatsapp:+15550001``: a conversation as a member of the timer index."""
        return f"{conversation.channel}:{conversation.identifier}"

    @staticmethod
    def parse_member(member: str) -> ConversationKey | None:
        """The conversation a timer index member names (channels hold no colon)."""
        channel, sep, identifier = member.partition(":")
        return ConversationKey(channel, identifier) if sep else None

    @staticmethod
    def timer_shard(conversation: ConversationKey, shards: int) -> int:
        """The timer index shard of a conversation (stable across processes: CRC-32)."""
        member = f"{conversation.channel}:{conversation.identifier}"
        return zlib.crc32(member.encode("utf-8", "surrogatepass")) % shards

    def seen(self, conversation: ConversationKey) -> str:
        """``flowhq:{whatsapp:+15550001}:seen``: the ids of the conversation's messages.

        It shares the conversation's hash tag (the commit script checks and adds to it) and
        never matches :meth:`pattern`, which wants the key to end with the tag.
        """
        return f"{self.key(conversation)}:seen"

    def identities(self, channel: str) -> str:
        """``flowhq:identities:{whatsapp}``: which conversation each id of a user names.

        One hash per channel (its own hash tag), so linking ids is one atomic script; it
        never matches :meth:`pattern`, whose tag follows the prefix directly.
        """
        return f"{self.prefix}:identities:{{{channel}}}"

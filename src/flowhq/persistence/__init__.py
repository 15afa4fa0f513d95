"""Stores: where conversation documents live, and their codec."""

from flowhq.persistence.codec import Codec, JsonCodec
from flowhq.persistence.keys import KeyBuilder
from flowhq.persistence.memory import MemoryStore
from flowhq.persistence.redis import RedisStore
from flowhq.persistence.store import CommitResult, ConversationKey, Loaded, Store

__all__ = [
    "Codec",
    "CommitResult",
    "ConversationKey",
    "JsonCodec",
    "KeyBuilder",
    "Loaded",
    "MemoryStore",
    "RedisStore",
    "Store",
]

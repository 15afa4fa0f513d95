"""Stores: where conversation documents live, and their codec."""

from flowhq.persistence.codec import Codec, JsonCodec
from flowhq.persistence.memory import MemoryStore
from flowhq.persistence.redis import KeyBuilder, RedisStore
from flowhq.persistence.store import CommitResult, Loaded, Store

__all__ = [
    "Codec",
    "CommitResult",
    "JsonCodec",
    "KeyBuilder",
    "Loaded",
    "MemoryStore",
    "RedisStore",
    "Store",
]

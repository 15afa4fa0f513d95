"""Channel-neutral intake: the update queue, its Redis Streams, and the workers' policy.

A channel's webhook verifies and parses a delivery, records its updates on an
:class:`UpdateQueue` and acknowledges; workers feed each update to ``Headquarters.handle``
and decide whether it is done, kept for a later try or dropped (see docs/architecture.md).
"""

from flowhq.inbox.lanes import Handler
from flowhq.inbox.queue import MemoryQueue, UpdateQueue, shard_of
from flowhq.inbox.redis_streams import RedisStreamQueue

__all__ = ["Handler", "MemoryQueue", "RedisStreamQueue", "UpdateQueue", "shard_of"]

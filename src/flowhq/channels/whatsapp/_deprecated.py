"""Names that moved out of the WhatsApp channel, importable from here for one more release.

The update queue is any channel's (now :mod:`flowhq.inbox`); the fake Graph API is a test
double (now :mod:`flowhq.testing.whatsapp`). Their homes are imported only when an old name
is asked for, so the channel never depends on them.
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["moved"]

MOVED = {
    "Handler": "flowhq.inbox",
    "MemoryQueue": "flowhq.inbox",
    "RedisStreamQueue": "flowhq.inbox",
    "UpdateQueue": "flowhq.inbox",
    "shard_of": "flowhq.inbox",
    "encode": "flowhq.inbox.queue",
    "decode": "flowhq.inbox.queue",
}
"""Name -> its home now, for the package and its old ``queue`` module."""

MOVED_FROM_FAKE_GRAPH = dict.fromkeys(
    ("Delivery", "FakeGraphApi", "ReadRequest", "Refusal", "refuse"), "flowhq.testing.whatsapp"
)
"""Name -> its home now, for the old ``fake_graph`` module."""


def moved(module: str, name: str) -> object:
    """The object ``name`` that ``module`` used to define, with a ``DeprecationWarning``.

    Raises:
        AttributeError: ``name`` never lived in ``module``.
    """
    home = (MOVED_FROM_FAKE_GRAPH if module.endswith(".fake_graph") else MOVED).get(name)
    if home is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} moved to {home}.{name}; the old path goes away in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(home), name)

"""Deprecated: the update queue moved to :mod:`flowhq.inbox` (it serves any channel).

Importing a name from here still works for one release, with a ``DeprecationWarning``.
"""

from __future__ import annotations

from flowhq.channels.whatsapp._deprecated import moved

__all__: list[str] = []


def __getattr__(name: str) -> object:
    return moved(__name__, name)

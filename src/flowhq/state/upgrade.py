"""Upgrade steps for stored documents that need the flow to be done.

Schema 1 kept saved values and component data in one map; the codec cannot tell them
apart, so it puts everything under ``values`` and marks the document. When the flow runs,
the keys that are its state ids and hold component data move back to ``data``.
"""

from __future__ import annotations

from typing import Any

from flowhq.state.document import ConversationDocument

__all__ = ["split_legacy_values"]


def split_legacy_values(document: ConversationDocument, flow_cls: Any | None) -> None:
    """Finish the schema-1 upgrade of ``document`` with the states of ``flow_cls``."""
    current = document.current
    state_ids = set(flow_cls.states_map) if flow_cls is not None else set()
    for key in [key for key in current.values if key in state_ids]:
        value = current.values[key]
        if isinstance(value, dict):
            current.data[key] = current.values.pop(key)
    document.metadata.upgraded_from = None

"""The pure chart layer: ``Flow``, component-state declarations, checks, snapshot/restore."""

from flowhq.statecharts.component_state import ComponentState
from flowhq.statecharts.flow import Flow, HistoryState, check_flow
from flowhq.statecharts.restore import fingerprint
from flowhq.statecharts.snapshot import restore, snapshot

__all__ = [
    "ComponentState",
    "Flow",
    "HistoryState",
    "check_flow",
    "fingerprint",
    "restore",
    "snapshot",
]

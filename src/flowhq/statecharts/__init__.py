"""The pure chart layer: ``Flow``, component-state declarations, checks, the compiled runtime."""

from flowhq.statecharts.component_state import ComponentState
from flowhq.statecharts.flow import Flow, HistoryState, check_flow
from flowhq.statecharts.restore import fingerprint

__all__ = [
    "ComponentState",
    "Flow",
    "HistoryState",
    "check_flow",
    "fingerprint",
]

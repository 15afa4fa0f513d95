"""The oracle: a flow as a python-statemachine chart, restored at saved ids and read back.

flowhq runs flows on its compiled engine; python-statemachine is the reference it is held
to. The differential test, the restore tests and the benchmarks build python-statemachine
charts at a saved position with ``restore`` and read their position with ``snapshot``.
Restoring presets the model with the saved configuration before the chart is constructed, so
python-statemachine does not enter the initial state and no entry action runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from statemachine.model import Model
from statemachine.orderedset import OrderedSet

from flowhq.statecharts.flow import Flow
from flowhq.statecharts.model import all_states

__all__ = [
    "UnknownConfigurationError",
    "restore",
    "snapshot",
]


class UnknownConfigurationError(LookupError):
    """A saved configuration names states the flow class does not have."""

    def __init__(self, unknown: Sequence[str]) -> None:
        self.unknown = list(unknown)
        super().__init__(f"unknown state ids: {', '.join(self.unknown)}")


def _with_ancestors(flow_cls: type[Flow], ids: Sequence[str]) -> list[str]:
    states_map = flow_cls.states_map
    unknown = [state_id for state_id in ids if state_id not in states_map]
    if unknown:
        raise UnknownConfigurationError(unknown)
    chosen: set[str] = set()
    for state_id in ids:
        state = states_map[state_id]
        chosen.add(state.id)
        chosen.update(ancestor.id for ancestor in state.ancestors())
    # Document order keeps the saved form stable.
    return [state.id for state in all_states(flow_cls) if state.id in chosen]


def restore(
    flow_cls: type[Flow],
    configuration: Sequence[str],
    history: Mapping[str, Sequence[str]],
    *,
    listeners: Sequence[object] = (),
) -> Flow:
    """Rebuild a chart at ``configuration`` without running any entry action.

    Raises:
        UnknownConfigurationError: when the configuration or history names unknown states.
    """
    ids = _with_ancestors(flow_cls, configuration)
    states_map = flow_cls.states_map
    unknown = [s for values in history.values() for s in values if s not in states_map]
    unknown += [h for h in history if h not in {s.id for s in all_states(flow_cls)}]
    if unknown:
        raise UnknownConfigurationError(unknown)
    model = Model()  # type: ignore[no-untyped-call]
    model.state = OrderedSet(ids)
    chart = flow_cls(model=model, listeners=list(listeners))
    for history_id, values in history.items():
        chart.history_values[history_id] = [states_map[value] for value in values]
    return chart


def snapshot(chart: Flow) -> tuple[list[str], dict[str, list[str]]]:
    """Return the chart's configuration (ancestors included) and its history values."""
    active = {state.id for state in chart.configuration}
    configuration = [state.id for state in all_states(type(chart)) if state.id in active]
    history = {key: [state.id for state in values] for key, values in chart.history_values.items()}
    return configuration, history

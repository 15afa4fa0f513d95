"""StateManager: accessors, copies, component boundaries, validation tracking."""

from __future__ import annotations

import pytest

from flowhq import (
    Action,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    StateAccessError,
    StateManager,
)
from flowhq.components.base import ComponentBase
from flowhq.state.document import Channel, ConversationDocument
from flowhq.state.manager import VALIDATION_HISTORY_LIMIT, Messaging, Role


def manager(role: Role, *, component: str = "c", saves: tuple[str, ...] = ()) -> StateManager:
    document = ConversationDocument(channel=Channel("whatsapp", "+1"))
    document.dashboard = {"plan": {"tier": "gold"}}
    document.current.data = {"c": {"x": [1]}, "other": {"y": 2}}
    document.current.values = {"name": "Ann"}
    return StateManager(
        document, component=component, role=role, messaging=Messaging(), saves=frozenset(saves)
    )


def test_protected_accessors_and_copies() -> None:
    sm = manager(Role.DISPLAY)
    assert sm.get_channel_id() == "+1"
    assert sm.get_channel_type() == "whatsapp"
    dashboard = sm.get_dashboard_data()
    dashboard["plan"]["tier"] = "hacked"
    assert sm.get_dashboard_data() == {"plan": {"tier": "gold"}}
    data = sm.get_component_data()
    data["x"].append(2)
    assert sm.get_component_data() == {"x": [1]}
    assert sm.get_component_data("other") == {"y": 2}
    assert sm.get_action_data() == {}
    assert not sm.is_authenticated()


@pytest.mark.parametrize(
    ("role", "operation"),
    [
        (Role.DISPLAY, lambda sm: sm.update_component_data({"a": 1})),
        (Role.DISPLAY, lambda sm: sm.save_value("name", "Bob")),
        (Role.DISPLAY, lambda sm: sm.record_validation("op", success=True)),
        (Role.CONFIRM, lambda sm: sm.update_component_data({"a": 1})),
        (Role.INPUT, lambda sm: sm.update_component_data({"a": 1}, component="other")),
        (Role.INPUT, lambda sm: sm.save_value("email", "x")),
        (Role.INPUT, lambda sm: sm.update_dashboard({"a": 1})),
        (Role.INPUT, lambda sm: sm.update_action({"a": 1})),
        (Role.CONFIRM, lambda sm: sm.update_action({"a": 1})),
        (Role.API, lambda sm: sm.save_value("undeclared", 1)),
    ],
)
def test_boundaries(role: Role, operation: object) -> None:
    sm = manager(role, saves=("name",))
    with pytest.raises(StateAccessError) as info:
        operation(sm)  # type: ignore[operator]
    assert info.value.component == "c"


async def test_make_api_request_needs_the_api_role() -> None:
    with pytest.raises(StateAccessError):
        await manager(Role.INPUT).make_api_request("GET", "/x")


def test_allowed_updates() -> None:
    sm = manager(Role.INPUT, saves=("name",))
    sm.save_value("name", "Bob")
    sm.update_component_data({"a": 1})
    assert sm.get_value("name") == "Bob"
    assert sm.get_component_data() == {"x": [1], "a": 1}
    api = manager(Role.API)
    api.update_dashboard({"b": 2})
    api.update_action({"c": 3})
    assert api.get_dashboard_data()["b"] == 2
    assert api.get_action_data() == {"c": 3}


@pytest.mark.parametrize(
    "value",
    [
        __import__("datetime").datetime(2026, 1, 1),
        {1: "int key"},
        {"a": {"deep": {1, 2}}},
        float("nan"),
        "lone \ud800 surrogate",
        b"bytes",
    ],
)
def test_values_json_cannot_hold_are_refused_when_saved(value: object) -> None:
    sm = manager(Role.API, saves=("when",))
    with pytest.raises(TypeError, match="state 'c'"):
        sm.save_value("when", value)
    with pytest.raises(TypeError):
        sm.update_dashboard({"x": value})
    assert sm.get_value("when") is None


def test_choice_labels_are_kept_apart_from_values() -> None:
    sm = manager(Role.INPUT, saves=("pizza",))
    sm.save_value("pizza", "four-cheese", label="Four cheese")
    assert sm.get_value("pizza") == "four-cheese"
    assert sm.get_label("pizza") == "Four cheese"
    assert sm.values()["pizza"] == "Four cheese"  # what message templates show
    assert sm.payload_values()["pizza"] == "four-cheese"  # what API payloads send
    assert sm.values()["dashboard.plan"] == {"tier": "gold"}


def test_validation_tracking_is_bounded_newest_kept() -> None:
    sm = manager(Role.INPUT)
    for i in range(VALIDATION_HISTORY_LIMIT + 5):
        sm.record_validation("op", success=i % 2 == 0, error=None if i % 2 == 0 else f"e{i}")
    status = sm.get_validation_status("op")
    assert status["attempts"] == VALIDATION_HISTORY_LIMIT + 5
    history = sm.get_validation_history()
    assert status["latest"] == history[-1]
    assert history[-2]["error"] == f"e{VALIDATION_HISTORY_LIMIT + 3}"
    assert len(history) == VALIDATION_HISTORY_LIMIT
    assert set(history[0]) == {"operation", "component", "timestamp", "success", "error"}
    assert sm.get_validation_status("other") == {"attempts": 0, "latest": None}


class Overstep(ComponentBase):
    """A display component that tries to write state."""

    kind = "Overstep"

    def __init__(self) -> None:
        super().__init__("hi", results=("done",), initial=True)

    async def begin(self, state_manager: StateManager) -> str | None:
        state_manager.save_value("name", "mallory")
        return "done"


async def test_overstepping_component_gets_state_access_error() -> None:
    def sneaky(state_manager: StateManager) -> str:
        state_manager.update_component_data({"x": 1}, component="ask")
        return "done"

    class Sneaky(Flow):
        ask = Prompt("Name?", initial=True)
        act = Action(sneaky, results=("done", "error"))
        ok = Message("ok", final=True)
        refused = Message("refused", final=True)
        valid = ask.to(act)
        done = act.to(ok)
        error = act.to(refused)

    hq = Headquarters(flows=[Sneaky], store=MemoryStore())
    await hq.handle(InboundMessage("whatsapp", "+1", "1", "hi"))
    outcome = await hq.handle(InboundMessage("whatsapp", "+1", "2", "Ann"))
    assert [r.text for r in outcome.replies] == ["refused"]


async def test_display_component_cannot_write(caplog: pytest.LogCaptureFixture) -> None:
    class Bad(Flow):
        show = Overstep()
        end = Message("end", final=True)
        done = show.to(end)

    hq = Headquarters(flows=[Bad], store=MemoryStore())
    outcome = await hq.handle(InboundMessage("whatsapp", "+1", "1", "hi"))
    assert outcome.replies[0].text == hq.error_handler.apology
    assert "StateAccessError" in caplog.text

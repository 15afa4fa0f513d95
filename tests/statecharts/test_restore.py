"""Restore without replay: a chart rebuilt at any saved configuration sends nothing."""

from __future__ import annotations

import pytest

from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    RecordingMessenger,
)
from flowhq.persistence.codec import JsonCodec
from flowhq.state.document import Channel, ChartState, ConversationDocument, Current
from flowhq.statecharts.checks import saved_names
from flowhq.statecharts.component_state import ComponentState
from flowhq.statecharts.model import all_states, leaf_of
from flowhq.statecharts.restore import fingerprint
from flowhq.testing import no_api
from tests.flows import Age, Nested
from tests.statecharts.oracle import restore, snapshot

API = no_api()  # restoring never calls it

FLOWS = [Signup, SupportMenu, OrderStatus, Age, Nested]


class Spy:
    def __init__(self) -> None:
        self.entered: list[str] = []

    def on_enter_state(self, state: object) -> None:
        self.entered.append(state.id)  # type: ignore[attr-defined]


def leaves(flow: type[Flow]) -> list[str]:
    return [s.id for s in all_states(flow) if leaf_of(s)]


@pytest.mark.parametrize("flow", FLOWS)
def test_restore_at_every_state_runs_no_entry(flow: type[Flow]) -> None:
    for state_id in leaves(flow):
        spy = Spy()
        chart = restore(flow, [state_id], {}, listeners=[spy])
        assert spy.entered == []
        configuration, _ = snapshot(chart)
        assert state_id in configuration
        # ancestors are part of the saved configuration
        state = flow.states_map[state_id]
        assert all(a.id in configuration for a in state.ancestors())


@pytest.mark.parametrize("flow", FLOWS)
async def test_nothing_is_sent_until_input_arrives(flow: type[Flow]) -> None:
    """Store a conversation at each state, let a new Headquarters load it: no message leaves
    until a message is handled, and handling one triggers only that state's work."""
    codec = JsonCodec()
    for state_id in leaves(flow):
        state = flow.states_map[state_id]
        if state.final or not (isinstance(state, ComponentState) and state.accepts_input):
            continue
        store = MemoryStore(codec=codec)
        messenger = RecordingMessenger()
        key = ConversationKey("whatsapp", "+1")
        configuration = [a.id for a in reversed(list(state.ancestors()))] + [state_id]
        document = ConversationDocument(
            channel=Channel("whatsapp", "+1"),
            current=Current(
                path=flow.name,
                component=state_id,
                awaiting_input=True,
                values=dict.fromkeys(saved_names(list(all_states(flow))), "x"),
            ),
            chart=ChartState(
                flow=flow.name, fingerprint=fingerprint(flow), configuration=configuration
            ),
        )
        await store.commit(key, document, expected=0)
        hq = Headquarters(flows=[flow], store=store, messenger=messenger, api=API)
        assert await hq.redeliver(older_than=0) == 0
        assert messenger.sent == []
        # An image answers no text component: the only reply is the waiting one re-asking,
        # so restoring ran no entry of this or any other state.
        outcome = await hq.handle(InboundMessage("whatsapp", "+1", "img", kind="image"))
        assert len(outcome.replies) == 1, (state_id, [r.text for r in outcome.replies])
        assert outcome.replies[0].text.startswith("Please"), (state_id, outcome.replies[0].text)
        assert state_id in outcome.configuration


def test_history_is_saved_and_restored() -> None:
    chart = restore(Nested, ["second"], {})
    chart.send("help", component_result=None, data={}, dashboard={}, action={})
    configuration, history = snapshot(chart)
    assert configuration == ["help_text"]
    assert history == {"hist": ["outer", "inner", "second"]} or history["hist"][-1] == "second"
    spy = Spy()
    again = restore(Nested, configuration, history, listeners=[spy])
    again.send("done", component_result="done", data={}, dashboard={}, action={})
    assert snapshot(again)[0] == ["outer", "inner", "second"]
    assert spy.entered == ["outer", "inner", "second"]


def test_fingerprint_is_stable_and_structural() -> None:
    assert fingerprint(Signup) == fingerprint(Signup)
    assert fingerprint(Signup) != fingerprint(SupportMenu)

"""Static checks: each problem is reported by name, at class creation and by check_flow."""

from __future__ import annotations

import pytest

from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    Confirm,
    Flow,
    FlowDefinitionError,
    HistoryState,
    Message,
    Prompt,
    State,
    check_flow,
)


@pytest.mark.parametrize("flow", [Signup, SupportMenu, OrderStatus])
def test_examples_are_sound(flow: type[Flow]) -> None:
    assert check_flow(flow) == []


def problems_of(build: object) -> list[str]:
    with pytest.raises(FlowDefinitionError) as info:
        build()  # type: ignore[operator]
    return info.value.problems


def test_unhandled_result_names_state_and_result() -> None:
    def build() -> None:
        class F(Flow):
            ask = Prompt("?", max_attempts=2, initial=True)
            end = Message("end", final=True)
            valid = ask.to(end)

    assert problems_of(build) == [
        "state 'ask': result 'exhausted' of its Prompt is not handled "
        "(add a transition from it or an enclosing state)"
    ]


def test_unreachable_and_dead_end() -> None:
    def build() -> None:
        class F(Flow):
            ask = Prompt("?", initial=True)
            end = Message("end", final=True)
            island = Prompt("never")
            stuck = State()
            valid = ask.to(end) | island.to(stuck)

    problems = problems_of(build)
    assert "state 'island' is unreachable from the initial state" in problems
    assert "state 'stuck' is unreachable from the initial state" in problems
    assert "state 'stuck' is not final and has no way out" in problems


def test_history_without_default() -> None:
    def build() -> None:
        class F(Flow):
            class inner(State.Compound):
                a = Prompt("a", initial=True)
                h = HistoryState()

            side = Message("side")
            end = Message("end", final=True)
            valid = inner.to(side)
            done = side.to(inner.h)
            cancel = inner.to(end)

    problems = problems_of(build)
    assert any(p.startswith("history state 'h' has no default transition") for p in problems)


def test_duplicate_state_ids() -> None:
    def build() -> None:
        class F(Flow):
            class one(State.Compound):
                ask = Prompt("a", initial=True)

            class two(State.Compound):
                ask = Prompt("b", initial=True)

            end = Message("end", final=True)
            valid = one.to(two)
            cancel = two.to(end)

    assert any("state id 'ask' is used 2 times" in p for p in problems_of(build))


def test_two_inputs_waiting_at_once() -> None:
    def build() -> None:
        class F(Flow):
            class both(State.Parallel):
                class left(State.Compound):
                    a = Prompt("a", initial=True)
                    a_done = State(final=True)
                    valid = a.to(a_done)

                class right(State.Compound):
                    b = Confirm("b", initial=True)
                    b_done = State(final=True)
                    yes = b.to(b_done)
                    no = b.to(b_done)

            end = Message("end", final=True)
            done_state_both = both.to(end)

    assert any(
        "input components 'a' (in 'left'), 'b' (in 'right')" in p for p in problems_of(build)
    )


def test_template_with_attribute_access_is_refused() -> None:
    def build() -> None:
        class F(Flow):
            ask = Prompt("Hi {user.__class__}", initial=True)
            end = Message("{items[0]}", final=True)
            valid = ask.to(end)

    problems = problems_of(build)
    assert len(problems) == 2
    assert "{user.__class__} is not a plain name" in problems[0]


def test_command_for_unknown_event() -> None:
    def build() -> None:
        class F(Flow):
            commands = {"stop": "stop"}
            ask = Prompt("a", initial=True)
            end = Message("end", final=True)
            valid = ask.to(end)

    assert problems_of(build) == ["command 'stop' fires event 'stop', which no transition handles"]


def test_flow_name_defaults_to_snake_case() -> None:
    assert SupportMenu.name == "support_menu"
    assert Signup.name == "signup"


def test_unguarded_eventless_transition_handles_every_result() -> None:
    class Passing(Flow):
        ask = Prompt("?", max_attempts=2, initial=True)
        end = Message("end", final=True)
        ask.to(end)  # eventless, unguarded: leaves whatever the result

    assert check_flow(Passing) == []

    def build() -> None:
        class Guarded(Flow):
            ask = Prompt("?", initial=True)
            end = Message("end", final=True)
            ask.to(end, unless="never")

            def never(self) -> bool:
                return False

    assert problems_of(build) == [
        "state 'ask': result 'valid' of its Prompt is not handled "
        "(add a transition from it or an enclosing state)"
    ]

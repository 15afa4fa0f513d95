"""Generated paths: every path of every example flow replays, and together they cover all."""

from __future__ import annotations

import textwrap

import pytest

from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import Action, Flow, Message, Prompt
from flowhq.cli import main
from flowhq.testing import aplan, declared_transitions, replay
from flowhq.validators import integer
from tests.flows import Age, Nested

FLOWS = [Signup, SupportMenu, OrderStatus, Age, Nested]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
async def test_every_path_replays_and_all_transitions_are_covered(flow: type[Flow]) -> None:
    plan = await aplan(flow)
    assert plan.unreached == set()
    assert declared_transitions(flow) <= plan.covered | _aliases(flow)
    for path in plan.paths:
        report = await replay(flow, path)
        assert report.followed, str(report)
        assert path.finished
    total = len(declared_transitions(flow))
    print(f"\n{flow.name}: {len(plan.paths)} paths cover {total} transitions")


def _aliases(flow: type[Flow]) -> set[tuple[str, str | None, str]]:
    # done_state_x is declared as done_state_x and done.state.x; one firing covers both
    return {t for t in declared_transitions(flow) if "_state_" in t[2]}


async def test_inputs_steps_and_forced_results() -> None:
    plan = await aplan(Signup)
    steps = {(s.state, s.result): s for path in plan.paths for s in path.steps}
    assert steps[("email", "valid")].input == "ann@example.com"
    assert steps[("confirm", "no")].input == "no"
    assert steps[("create", "error")].forced
    assert steps[("create", "error")].input is None
    assert steps[(None, "cancel")].input == "cancel"
    exhausted = next(p for p in plan.paths if ("email", "goodbye", "exhausted") in p.transitions)
    assert [m.input for m in exhausted.moves][-3:] == ["not-an-email"] * 3


async def test_guards_are_honoured_with_sampled_values() -> None:
    plan = await aplan(Age)
    inputs = {p.moves[-1].input: p.moves[-1].configuration for p in plan.paths}
    assert ("adult",) in inputs.values()
    assert ("minor",) in inputs.values()


def count(state_manager: object) -> str:
    return "again"


class Loop(Flow):
    """A loop the generator must bound."""

    ask = Prompt("Number?", save_as="n", validator=integer(min=1, max=3), initial=True)
    tick = Action(count, results=("again", "stop"))
    end = Message("End.", final=True)
    valid = ask.to(tick)
    again = tick.to(ask)
    stop = tick.to(end)


async def test_loops_are_bounded() -> None:
    plan = await aplan(Loop, max_depth=4)
    assert plan.unreached == set()
    assert all(len(p.moves) <= 5 for p in plan.paths)
    for path in plan.paths:
        assert (await replay(Loop, path)).followed


async def test_replay_reports_divergence() -> None:
    plan = await aplan(Signup)
    path = next(p for p in plan.paths if p.finished and len(p.moves) > 2)

    class Changed(Flow):
        name = "signup"
        first_name = Prompt("Name?", initial=True)
        bye = Message("Bye.", final=True)
        valid = first_name.to(bye)

    report = await replay(Changed, path)
    assert not report.followed
    assert report.diverged_at == 1
    assert report.actual == ("bye",)
    assert "diverged at move 1" in str(report)


def test_cli_prints_paths(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    assert main(["check", "--paths", "examples.signup:Signup"]) == 0
    out = capsys.readouterr().out
    assert "paths cover 10/10 transitions" in out
    assert "say 'yes' [force create=error] -> confirm: yes, create: error => ['goodbye']" in out
    assert textwrap.dedent(out).count("path ") >= 6


class Detour(Flow):
    """`help` at the menu leaves and comes back to the same question: a transition the
    generator must still put on a path, though the position after it is the one before."""

    name = "detour"
    commands = {"help": "help"}
    ask = Prompt("Word?", initial=True)
    help_text = Message("Type any word.")
    done_msg = Message("Done.", final=True)
    valid = ask.to(done_msg)
    help = ask.to(help_text)
    done = help_text.to(ask)


async def test_a_detour_back_to_the_same_position_is_covered() -> None:
    plan = await aplan(Detour)
    assert ("ask", "help_text", "help") in plan.covered
    assert declared_transitions(Detour) <= plan.covered

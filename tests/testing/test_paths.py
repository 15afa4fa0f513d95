"""Generated paths: every path of every example flow replays, and together they cover all."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from examples.clinic import Booking, VisitReminder
from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import Action, Flow, Message, Prompt, State
from flowhq.cli import main
from flowhq.testing import (
    Conversation,
    PathPlan,
    TransitionCoverage,
    aplan,
    declared_transitions,
    plan,
    replay,
)
from flowhq.validators import integer
from tests.flows import Age, Nested

FLOWS = [Signup, SupportMenu, OrderStatus, Age, Nested, Booking, VisitReminder]


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


@pytest.fixture(scope="module")
def booking_plan() -> PathPlan:
    """The clinic booking's paths, generated once for the tests that read them."""
    return plan(Booking)


async def test_time_passes_to_cover_timeouts_and_waits(booking_plan: PathPlan) -> None:
    waits = {m.timer: m for p in booking_plan.paths for m in p.moves if m.kind == "wait"}
    assert set(waits) == {"day.timeout", "hold.wait", "slot.timeout"}
    assert waits["day.timeout"].after == timedelta(hours=23).total_seconds()
    assert waits["hold.wait"].after == 600
    assert waits["day.timeout"].input is None
    steps = {(s.state, s.result): s for path in booking_plan.paths for s in path.steps}
    assert steps[("day", "timeout")].timer == "day.timeout"
    assert steps[("hold", "done")].timer == "hold.wait"
    assert steps[("day", "valid")].timer is None
    expired = next(p for p in booking_plan.paths if ("day", "expired", "timeout") in p.transitions)
    assert expired.describe()[-1] == "wait 23h (day.timeout) -> day: timeout => ['expired']"


async def test_a_flow_started_with_data_gets_placeholders() -> None:
    reminder = await aplan(VisitReminder)
    first = reminder.paths[0].moves[0]
    assert first.kind == "start"
    assert first.data == (("visit", "<visit>"),)
    assert reminder.paths[0].describe()[0] == (
        "(start with visit='<visit>') -> (no result) => ['coming']"
    )
    report = await replay(VisitReminder, reminder.paths[0])
    assert "Reminder: your visit is tomorrow, <visit>. Still coming?" in report.replies


class Quick(Flow):
    """The clinic's day question without its deadline: a wait for it diverges."""

    name = "booking"

    class booking(State.Compound):
        day = Prompt("Which day?", initial=True)

    end = Message("End.", final=True)
    valid = booking.day.to(end)


async def test_replay_of_a_wait_for_a_timer_the_flow_lost_diverges(booking_plan: PathPlan) -> None:
    path = next(p for p in booking_plan.paths if p.moves[1].kind == "wait")
    report = await replay(Quick, path)
    assert not report.followed
    assert report.diverged_at == 1
    assert report.actual == ("booking", "day")
    assert "diverged at move 1 (wait 23h (day.timeout))" in str(report)


def test_cli_prints_waits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--paths", "examples.clinic:Booking"]) == 0
    out = capsys.readouterr().out
    assert "paths cover 10/10 transitions" in out
    assert "  wait 10m (hold.wait) -> hold: done => ['booking', 'slot']" in out
    assert "  wait 23h (slot.timeout) -> slot: timeout => ['expired']" in out


async def test_coverage_counts_what_time_fired() -> None:
    coverage = TransitionCoverage()
    async with Conversation(Booking, coverage=coverage) as c:
        await c.say("hi")
        await c.say("Friday")
        assert await c.advance(timedelta(minutes=10)) == ["On Friday we have:"]
        assert await c.advance(timedelta(hours=23)) == [
            "No worries, write again when you're ready."
        ]
    missing = coverage.missing(Booking)
    assert ("hold", "slot", "done") not in missing
    assert ("slot", "expired", "timeout") not in missing
    assert ("day", "expired", "timeout") in missing

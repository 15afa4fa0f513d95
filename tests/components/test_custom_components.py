"""A component written on the public ``Component`` base runs, checks and is covered by paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from flowhq import Flow, InboundMessage, Message, StateManager
from flowhq.cli import main
from flowhq.components import Component, Example
from flowhq.state import Role
from flowhq.testing import Conversation, aplan, declared_transitions, replay


class Stars(Component):
    """A rating from 1 to 5; ``skip`` skips. Gives examples for the path generator."""

    kind = "Stars"
    accepts_input = True
    role: ClassVar[Role] = Role.INPUT

    def __init__(self, text: str, *, save_as: str, initial: bool = False) -> None:
        super().__init__(text, results=("rated", "skipped", "angry"), saves=(save_as,),
                         initial=initial)  # fmt: skip
        self.save_as = save_as

    async def begin(self, state_manager: StateManager) -> str | None:
        self.reprompt(state_manager)
        return None

    def reprompt(self, state_manager: StateManager, *, offset: int = 0, prefix: str = "") -> None:
        state_manager.messaging.send(prefix + self.text.render(state_manager.values()))

    async def handle(self, state_manager: StateManager, inbound: InboundMessage) -> str | None:
        answer = (inbound.text or "").strip()
        if answer == "skip":
            return "skipped"
        if not (answer.isdigit() and 1 <= int(answer) <= 5):
            self.reprompt(state_manager, prefix="1 to 5, please. ")
            return None
        state_manager.save_value(self.save_as, int(answer))
        return "angry" if answer == "1" else "rated"

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        return (Example("4", "rated"), Example("1", "angry"), Example("skip", "skipped"),
                Example("zero", None))  # fmt: skip


class Mute(Stars):
    """The same component without examples."""

    def examples(self, state_manager: StateManager) -> Sequence[Example]:
        return ()


class Feedback(Flow):
    name = "feedback"
    commands = {"cancel": "cancel"}

    rate = Stars("How was it?", save_as="stars", initial=True)
    again = Stars("And the food?", save_as="food")
    thanks = Message("Thanks for {stars} and {food}!", final=True)
    sorry = Message("Sorry to hear that.", final=True)
    bye = Message("Maybe next time.", final=True)

    rated = rate.to(again) | again.to(thanks)
    angry = rate.to(sorry) | again.to(sorry)
    skipped = rate.to(bye) | again.to(bye)
    cancel = rate.to(bye) | again.to(bye)


class MuteFeedback(Flow):
    name = "mute_feedback"

    rate = Mute("How was it?", save_as="stars", initial=True)
    thanks = Message("Thanks for {stars}!", final=True)
    bye = Message("Maybe next time.", final=True)

    rated = rate.to(thanks)
    angry = rate.to(bye)
    skipped = rate.to(bye)


async def test_a_custom_component_runs_like_a_built_in() -> None:
    async with Conversation(Feedback) as c:
        assert await c.say("hi") == ["How was it?"]
        assert await c.say("zero") == ["1 to 5, please. How was it?"]
        assert await c.say("4") == ["And the food?"]
        assert await c.say("5") == ["Thanks for 4 and 5!"]


async def test_generated_paths_cover_every_transition_of_a_custom_component() -> None:
    plan = await aplan(Feedback)
    assert plan.covered == declared_transitions(Feedback)
    assert plan.unreached == set()
    assert plan.no_examples == {}
    for path in plan.paths:
        report = await replay(Feedback, path)
        assert report.followed, str(report)


async def test_a_component_without_examples_is_named() -> None:
    plan = await aplan(MuteFeedback)
    assert plan.no_examples == {"rate": "Stars"}
    assert plan.unreached


def test_check_paths_covers_a_custom_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--paths", "tests.components.test_custom_components:Feedback"]) == 0
    out = capsys.readouterr().out
    total = len(declared_transitions(Feedback))
    assert f"cover {total}/{total} transitions" in out
    assert "no examples" not in out


def test_check_paths_names_a_component_that_gives_no_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--paths", "tests.components.test_custom_components:MuteFeedback"]) == 1
    out = capsys.readouterr().out
    assert "no examples: state 'rate' (Stars)" in out

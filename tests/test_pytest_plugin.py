"""The pytest plugin: the ``conversation`` fixture and ``--flowhq-coverage``."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TEST_FILE = """
from flowhq import Confirm, Flow, Message, Prompt


class Tiny(Flow):
    ask = Prompt("Name?", save_as="name", initial=True)
    sure = Confirm("Sure, {name}?")
    hello = Message("Hello {name}!", final=True)
    bye = Message("Bye.", final=True)
    valid = ask.to(sure)
    yes = sure.to(hello)
    no = sure.to(bye)


async def test_yes(conversation):
    c = conversation(Tiny)
    await c.say("hi")
    await c.say("Ann")
    assert await c.press("yes") == ["Hello Ann!"]
"""


def test_coverage_report_lists_untested_transitions(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.makepyfile(test_tiny=TEST_FILE)
    result = pytester.runpytest_subprocess("--flowhq-coverage", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*flowhq transition coverage*",
            "tiny: 2/3 transitions exercised",
            "  untested: sure --no--> bye",
        ]
    )


def test_no_report_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.makepyfile(test_tiny=TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "flowhq transition coverage" not in result.stdout.str()

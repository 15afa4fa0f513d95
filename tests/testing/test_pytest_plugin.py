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


def _docs_test_file() -> str:
    """The test file docs/testing.md shows (the ```python block that starts `# test_`)."""
    from pathlib import Path

    from tests.test_docs import blocks

    docs = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
    return next(block for block in blocks(docs) if block.startswith("# test_"))


@pytest.mark.parametrize("plugins", [[], ["-p", "no:asyncio"]], ids=["strict", "no-pytest-asyncio"])
def test_the_documented_async_test_runs_with_no_configuration(
    pytester: pytest.Pytester, plugins: list[str]
) -> None:
    """A fresh project: no ini, no asyncio_mode; with pytest-asyncio in its default (strict)
    mode, or without pytest-asyncio at all."""
    pytester.makepyfile(test_flows=_docs_test_file())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *plugins)
    result.assert_outcomes(passed=2)
    assert "not natively supported" not in result.stdout.str()


def test_a_failing_async_test_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad="async def test_bad():\n    assert 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(failed=1)

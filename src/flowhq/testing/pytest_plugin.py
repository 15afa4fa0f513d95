"""pytest plugin (entry point ``flowhq``): the ``conversation`` fixture and coverage report.

``pytest --flowhq-coverage`` records every transition that conversation tests take (any
``Conversation`` made during the session) and prints, per flow, the transitions none took.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flowhq.headquarters import Headquarters
    from flowhq.statecharts import Flow
    from flowhq.testing.conversation import Conversation
    from flowhq.testing.coverage import TransitionCoverage

# The hooks import what they need when they run, so loading the plugin stays cheap.

__all__ = ["conversation"]

COVERAGE: pytest.StashKey[TransitionCoverage] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--flowhq-coverage``."""
    group = parser.getgroup("flowhq")
    group.addoption(
        "--flowhq-coverage",
        action="store_true",
        help="report the flow transitions that no conversation test exercised",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Start recording when ``--flowhq-coverage`` is on."""
    if config.getoption("flowhq_coverage", default=False):
        from flowhq.testing.coverage import TransitionCoverage, active_coverage  # noqa: PLC0415

        coverage = TransitionCoverage()
        config.stash[COVERAGE] = coverage
        active_coverage.set(coverage)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the coverage report."""
    coverage = config.stash.get(COVERAGE, None)
    if coverage is None:
        return
    terminalreporter.section("flowhq transition coverage")
    for line in coverage.report() or ["no flow was exercised"]:
        terminalreporter.write_line(line)


@pytest.fixture
def conversation(request: pytest.FixtureRequest) -> Iterator[Callable[..., Conversation]]:
    """Factory of :class:`Conversation` objects, closed at teardown.

    ``c = conversation(Signup, api=client)``; ``await c.say("hi")`` in an async test. The
    factory itself is synchronous, so it needs no particular async plugin.
    """
    from flowhq.testing.conversation import Conversation  # noqa: PLC0415

    made: list[Conversation] = []
    coverage = request.config.stash.get(COVERAGE, None)

    def make(target: type[Flow] | Headquarters, **options: Any) -> Conversation:
        options.setdefault("coverage", coverage)
        made.append(Conversation(target, **options))
        return made[-1]

    yield make
    for item in made:
        item.close()

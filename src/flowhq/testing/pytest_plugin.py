"""pytest plugin (entry point ``flowhq``): async tests, the ``conversation`` fixture, coverage.

- ``async def`` tests run with no configuration: a coroutine test that no async plugin
  claims (pytest-asyncio in strict mode without a marker, or no pytest-asyncio at all) runs
  in a fresh event loop. With pytest-asyncio in auto mode, or marked ``@pytest.mark.asyncio``,
  pytest-asyncio runs it as usual.
- ``pytest --flowhq-coverage`` records every transition that conversation tests take (any
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


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that no async plugin claims, in a fresh event loop."""
    import asyncio  # noqa: PLC0415
    import inspect  # noqa: PLC0415

    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test) or pyfuncitem.get_closest_marker("asyncio"):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(test(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


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

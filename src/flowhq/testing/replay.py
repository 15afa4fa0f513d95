"""Drive a ``Conversation`` along a generated path and report where it diverged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowhq.headquarters import Headquarters
from flowhq.statecharts import Flow
from flowhq.testing.conversation import Conversation
from flowhq.testing.paths import Path

__all__ = ["ReplayReport", "replay"]


@dataclass(frozen=True)
class ReplayReport:
    """Whether a replay followed its path; if not, the first move that went elsewhere."""

    path: Path
    followed: bool
    diverged_at: int | None = None
    expected: tuple[str, ...] = ()
    actual: tuple[str, ...] = ()
    replies: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.followed:
            return f"followed all {len(self.path.moves)} moves"
        assert self.diverged_at is not None
        move = self.path.moves[self.diverged_at]
        said = "the start" if move.input is None else repr(move.input)
        return (
            f"diverged at move {self.diverged_at} ({said}): expected {list(self.expected)}, "
            f"got {list(self.actual)}"
        )


async def replay(target: type[Flow] | Headquarters, path: Path, **options: Any) -> ReplayReport:
    """Send the path's messages through a fresh :class:`Conversation`, forcing its results.

    Args:
        target: The flow class (or a ``Headquarters`` running it).
        path: A path from :func:`flowhq.testing.paths`.
        options: Passed to ``Conversation`` (``store=``, ``api=``, ``identifier=``, ...).
    """
    async with Conversation(target, **options) as conversation:
        replies: list[str] = []
        for index, move in enumerate(path.moves):
            conversation.clear_forced()
            for state, result in move.forced:
                values = {name: value for s, name, value in move.saved if s == state}
                conversation.force_result(state, result, values=values)
            if move.input is None:
                replies += await conversation.start()
            else:
                replies += await conversation.say(move.input)
            actual = tuple(conversation.configuration)
            if actual != move.configuration:
                return ReplayReport(path, False, index, move.configuration, actual, tuple(replies))
        return ReplayReport(path, True, replies=tuple(replies))

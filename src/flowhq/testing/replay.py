"""Drive a ``Conversation`` along a generated path and report where it diverged.

A move that lets time pass advances the conversation's ``ManualClock`` to when the move's
timer is due in this conversation (so the wait is right however the path got there), then
fires what is due, as ``Conversation.advance`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowhq.headquarters import Headquarters
from flowhq.statecharts import Flow
from flowhq.testing.conversation import Conversation
from flowhq.testing.paths import Move, Path

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
        said = "the start" if move.kind == "start" else move.describe_action()
        return (
            f"diverged at move {self.diverged_at} ({said}): expected {list(self.expected)}, "
            f"got {list(self.actual)}"
        )


async def replay(target: type[Flow] | Headquarters, path: Path, **options: Any) -> ReplayReport:
    """Play the path's moves through a fresh :class:`Conversation`, forcing its results.

    Messages are said, waits advance the clock (see the module's docs).

    Args:
        target: The flow class (or a ``Headquarters`` running it; a path with waits needs
            its clock to be a ``ManualClock``).
        path: A path from :func:`flowhq.testing.paths`.
        options: Passed to ``Conversation`` (``store=``, ``api=``, ``identifier=``, ...).

    Raises:
        TypeError: a path with waits, on a ``Headquarters`` whose clock is not a
            ``ManualClock``.
    """
    async with Conversation(target, **options) as conversation:
        replies: list[str] = []
        for index, move in enumerate(path.moves):
            conversation.clear_forced()
            for state, result in move.forced:
                values = {name: value for s, name, value in move.saved if s == state}
                conversation.force_result(state, result, values=values)
            if move.timer is not None:
                replies += await _wait(conversation, move)
            elif move.resume is not None:
                replies += await conversation.resume(move.resume)
            elif move.input is None:
                replies += await conversation.start(path.flow, data=dict(move.data))
            else:
                replies += await conversation.say(move.input)
            actual = tuple(conversation.configuration)
            if actual != move.configuration:
                return ReplayReport(path, False, index, move.configuration, actual, tuple(replies))
        return ReplayReport(path, True, replies=tuple(replies))


async def _wait(conversation: Conversation, move: Move) -> list[str]:
    """Advance to when the move's timer is due here (else as long as the path waited)."""
    key = conversation.key
    pending = await conversation.hq.timers(key.channel, key.identifier)
    timer = next((timer for timer in pending if timer.id == move.timer), None)
    delta = move.after
    if timer is not None:
        delta = max(0.0, timer.due - conversation.hq.clock().timestamp())
    return await conversation.advance(delta)

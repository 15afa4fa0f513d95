"""``Action``: run custom code that returns one of its declared results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import ClassVar

from flowhq.errors import FlowError
from flowhq.state.manager import Role, StateManager

from ._user_code import call_user_function
from .base import Component

__all__ = ["Action"]

ActionFunc = Callable[[StateManager], "str | Awaitable[str]"]


class Action(Component):
    """Run ``func(state_manager)`` (sync or async); its return value is the result.

    An async function runs on the event loop; a sync one in a worker thread, so a blocking
    call in it (``requests``, a database driver) holds up only this conversation.

    The function has the API role: it may call ``make_api_request``, save the values it
    declares in ``saves`` and update dashboard/action data.

    Args:
        func: The code to run.
        results: Every result ``func`` may return.
        saves: Names ``func`` saves with ``state_manager.save_value`` (templates and guards
            may use them; the flow's checks know them).
        initial: This is the initial state.
    """

    kind = "Action"
    role: ClassVar[Role] = Role.API

    def __init__(
        self,
        func: ActionFunc,
        *,
        results: Sequence[str] = ("done",),
        saves: Iterable[str] = (),
        initial: bool = False,
    ) -> None:
        name = getattr(func, "__name__", type(func).__name__)
        super().__init__(name, results=results, saves=saves, initial=initial)
        self.func = func

    @property
    def template_fields(self) -> tuple[str, ...]:
        """An action shows no text."""
        return ()

    def describe(self) -> str:
        """Kind and the function's name."""
        return f"{self.kind}: {self.text.text}()"

    async def begin(self, state_manager: StateManager) -> str | None:
        """Run the function and return its result."""
        result = await call_user_function(self.func, state_manager)
        if result not in self.results:
            raise FlowError(f"action {self.id!r} returned {result!r}, not one of {self.results}")
        return str(result)

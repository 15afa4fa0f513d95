"""Running a user's function without stalling the event loop.

A component function may be sync or async (docs/architecture.md). An async one runs on the
loop. A sync one may block — users write ``requests.get(...)`` in Actions — and a blocked
loop stops everything else in the process: other conversations, the webhook's
acknowledgements, the update queue's lease renewals. So a sync function runs in the loop's
default executor, a bounded thread pool (``min(32, CPUs + 4)`` threads unless the
application sets its own with ``loop.set_default_executor``). The step awaits it, so the
state manager it is given is used by one thread at a time.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["call_user_function"]


def _is_async(func: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


async def call_user_function(func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func(*args)``: an async function on the loop, a sync one in a worker thread.

    A sync function that returns an awaitable (a lambda around an async call) has it
    awaited on the loop.
    """
    if _is_async(func):
        result = func(*args)
    else:
        result = await asyncio.to_thread(func, *args)
    if inspect.isawaitable(result):
        result = await result
    return result

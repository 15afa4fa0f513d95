"""A webhook app for load tests: ``uvicorn tests.channels.whatsapp.load_app:app``.

Each answer goes through an Action that appends it to the saved list ``seen`` (so a test
reads from Redis whether every message was applied once and in order). An answer ending in
``!`` makes the Action block for ``BLOCK_SECONDS`` as a sync function, the way users write
a ``requests`` call; with ``ASYNC_BLOCK=1`` it waits as an async function instead.
"""

from __future__ import annotations

import asyncio
import os
import time

from flowhq import Action, Flow, Prompt, StateManager
from tests.channels.whatsapp.env_app import app_from_env

ENV = os.environ
BLOCK_SECONDS = float(ENV.get("BLOCK_SECONDS", "2"))


def _record(state_manager: StateManager) -> bool:
    """Append the answer to ``seen``; whether it asks to block."""
    said = str(state_manager.get_value("said"))
    state_manager.save_value("seen", [*state_manager.get_value("seen", []), said.rstrip("!")])
    return said.endswith("!")


def record(state_manager: StateManager) -> str:
    if _record(state_manager):
        time.sleep(BLOCK_SECONDS)  # a blocking call inside a sync Action
    return "done"


async def record_async(state_manager: StateManager) -> str:
    if _record(state_manager):
        await asyncio.sleep(BLOCK_SECONDS)
    return "done"


class Load(Flow):
    name = "load"
    said = Prompt("Go?", initial=True)
    record = Action(record_async if ENV.get("ASYNC_BLOCK") == "1" else record, saves=("seen",))
    valid = said.to(record)
    done = record.to(said)


app = app_from_env(Load, shards=4)

"""A webhook app for multi-process tests: ``uvicorn tests.channels.whatsapp.worker_app:app``.

Its flow's Action writes a marker file and takes ``SLOW_SECONDS`` (so a test can kill the
worker in the middle of it), then counts in Redis how many times it completed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from flowhq import Action, Flow, Message, Prompt, StateManager
from tests.channels.whatsapp.env_app import app_from_env

ENV = os.environ


async def slow(state_manager: StateManager) -> str:
    Path(ENV["MARKER_DIR"], f"started-{os.getpid()}").touch()  # noqa: ASYNC240 - a test marker
    await asyncio.sleep(float(ENV.get("SLOW_SECONDS", "0")))
    return "done"


class Slow(Flow):
    name = "slow"
    ask = Prompt("Go?", initial=True)
    work = Action(slow)
    end = Message("Done.", final=True)
    valid = ask.to(work)
    done = work.to(end)


app = app_from_env(Slow, shards=2)

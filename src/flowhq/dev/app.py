"""The console's web app: one page, a JSON API, server-sent events, hot reload.

The simulator always runs on its own in-memory store, so talking to a flow never writes to
a real Redis. With ``--redis`` the inspector reads that Redis, read-only unless
``allow_reset``. Every request passes :class:`~flowhq.dev.guard.Guard` first: the hosts the
console is served as, the access token, same-origin JSON writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from flowhq import diagrams
from flowhq._modules import reload
from flowhq.channels.whatsapp import CHANNEL
from flowhq.components.base import ComponentBase
from flowhq.dev.access import Access
from flowhq.dev.events import EventBus, sse
from flowhq.dev.guard import Guard
from flowhq.dev.inspector import Inspector
from flowhq.dev.operator import Inbox
from flowhq.dev.simulator import Simulator
from flowhq.dev.time_control import describe_timer
from flowhq.errors import FlowError, InputError
from flowhq.headquarters import Headquarters
from flowhq.i18n import Translations
from flowhq.messaging.key import ConversationKey
from flowhq.persistence.memory import MemoryStore
from flowhq.persistence.store import Store
from flowhq.statecharts.flow import Flow
from flowhq.testing.paths import Path as TestPath
from flowhq.testing.paths import aplan

__all__ = ["Console", "FlowSource", "console_app"]

logger = logging.getLogger("flowhq.dev")

STATIC = Path(__file__).parent / "static"
INBOX_NOTICE = "Agent replies reach the simulated chat through the fake WhatsApp API."


class FlowSource:
    """Where the flows come from, and loading them again when their files change.

    Args:
        load: Loads the flow classes (``flowhq dev`` loads ``module:Flow`` targets).
        files: The source files to watch.
    """

    def __init__(self, load: Callable[[], list[type[Flow]]], files: Sequence[Path]) -> None:
        self.load = load
        self.files = list(files)
        self._stamps = self._read_stamps()

    def _read_stamps(self) -> dict[Path, float]:
        stamps: dict[Path, float] = {}
        for path in self.files:
            with contextlib.suppress(OSError):
                stamps[path] = path.stat().st_mtime_ns
        return stamps

    def changed(self) -> bool:
        """Whether a watched file changed since the last call."""
        stamps = self._read_stamps()
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        return True

    @classmethod
    def of(cls, flows: Sequence[type[Flow]]) -> FlowSource:
        """Flows given as classes: reloaded from their modules' files."""
        modules = [flow.__module__ for flow in flows]
        names = [flow.__name__ for flow in flows]

        def load() -> list[type[Flow]]:
            loaded = []
            for module_name, name in zip(modules, names, strict=True):
                module = reload(sys.modules[module_name])
                loaded.append(getattr(module, name))
            return loaded

        files = []
        for module_name in dict.fromkeys(modules):
            origin = getattr(sys.modules[module_name], "__file__", None)
            if origin:
                files.append(Path(origin))
        return cls(load, files)


def console_app(
    source: FlowSource,
    flows: Sequence[type[Flow]],
    *,
    api: httpx.AsyncClient | None = None,
    inspect_store: Store | None = None,
    allow_reset: bool = False,
    access: Access = Access(),  # noqa: B008 - frozen: one shared default is safe
    reload_every: float = 1.0,
    translations: Translations | None = None,
) -> Starlette:
    """Build the console.

    Args:
        source: Where the flows come from (for hot reload).
        flows: The flows, already loaded (the first is the entry flow).
        api: The API client ``ApiCall``s use (closed when the console stops).
        inspect_store: The store the inspector reads (default: the simulator's own; closed
            when the console stops).
        allow_reset: Let the inspector delete conversations.
        access: The hosts the console is served as and its access token (default: loopback
            only, no token).
        reload_every: Seconds between checks of the flow files (0: no hot reload).
        translations: The flows' texts in other languages; a simulated user's language is
            switched in the page (docs/i18n.md).
    """
    console = Console(
        source,
        flows,
        api=api,
        inspect_store=inspect_store,
        allow_reset=allow_reset,
        access=access,
        reload_every=reload_every,
        translations=translations,
    )
    return console.app


Handler = Callable[[Request], Awaitable[Response]]


class Console:
    """The console's state and its request handlers (see :func:`console_app`)."""

    def __init__(
        self,
        source: FlowSource,
        flows: Sequence[type[Flow]],
        *,
        api: httpx.AsyncClient | None,
        inspect_store: Store | None,
        allow_reset: bool,
        access: Access,
        reload_every: float,
        translations: Translations | None = None,
    ) -> None:
        self.source = source
        self.flows = list(flows)
        self.bus = EventBus()
        self.simulator = Simulator(
            self.flows, store=MemoryStore(), api=api, bus=self.bus, translations=translations
        )
        self.inspect_store = inspect_store
        self.inspector = Inspector(inspect_store or self.simulator.store, self.flows)
        self.allow_reset = allow_reset
        self.access = access
        self.reload_every = reload_every
        self.stop = asyncio.Event()
        self.inbox = Inbox(self.headquarters, delivery="console", notice=INBOX_NOTICE)
        self.app = Starlette(
            routes=[
                Route("/", self.index),
                Mount("/api/inbox", routes=self.inbox.routes()),  # the Inbox tab
                Mount("/api", routes=self._api_routes()),
                Mount("/static", StaticFiles(directory=STATIC), name="static"),
            ],
            middleware=[Middleware(Guard, access=access)],
            lifespan=self.lifespan,
        )
        self.app.state.console = self

    def _api_routes(self) -> list[Route]:
        json_errors = self.json_errors
        return [
            Route("/info", json_errors(self.info)),
            Route("/events", json_errors(self.events)),
            Route("/users", json_errors(self.users), methods=["GET", "POST"]),
            Route("/chat/{user}", json_errors(self.chat)),
            Route("/chat/{user}/{action}", json_errors(self.act), methods=["POST"]),
            Route("/state/{user}", json_errors(self.conversation_state)),
            Route("/timers/{user}", json_errors(self.timers)),
            Route("/timers/{user}/fire", json_errors(self.fire_timer), methods=["POST"]),
            Route("/clock", json_errors(self.clock), methods=["GET", "POST"]),
            Route("/diagram/{flow}.svg", json_errors(self.diagram)),
            Route("/paths/{flow}", json_errors(self.paths)),
            Route("/conversations", json_errors(self.conversations)),
            Route(
                "/conversations/{key:path}", json_errors(self.conversation), methods=["GET", "POST"]
            ),
            Route("/funnel/{flow}", json_errors(self.funnel)),
        ]

    def headquarters(self) -> Headquarters:
        """The simulator's Headquarters (the Inbox tab answers its conversations)."""
        if self.simulator.hq is None:
            raise FlowError("the simulator is not running (reloading the flows?)")
        return self.simulator.hq

    def flow(self, name: str | None) -> type[Flow]:
        """A loaded flow by name (default: the entry flow)."""
        if name is None:
            return self.flows[0]
        return {flow.name: flow for flow in self.flows}[name]

    # -- errors ----------------------------------------------------------------------------

    @staticmethod
    def json_errors(handler: Handler) -> Handler:
        """``handler`` with its errors as JSON (the access checks ran before, in the Guard)."""

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except (KeyError, InputError, ValueError) as exc:
                return JSONResponse({"error": f"not found or invalid: {exc}"}, status_code=404)
            except FlowError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return run

    # -- the page --------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """The page."""
        return FileResponse(STATIC / "index.html")

    async def info(self, request: Request) -> Response:
        """The flows, users and modes."""
        return JSONResponse(
            {
                "flows": [_describe(flow) for flow in self.flows],
                "entry": self.flows[0].name,
                "users": self.simulator.users,
                "allow_reset": self.allow_reset,
                "inspecting": "redis" if self.inspect_store is not None else "simulator",
                "clock": self.simulator.clock_state(),
            }
        )

    async def events(self, request: Request) -> Response:
        """Server-sent events: messages, steps, read receipts, reloads."""
        return StreamingResponse(sse(self.bus, self.stop), media_type="text/event-stream")

    # -- the simulator ---------------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        """The simulated users; POST adds one."""
        if request.method == "POST":
            user = self.simulator.add_user()
            return JSONResponse({"user": user, "users": self.simulator.users})
        return JSONResponse({"users": self.simulator.users})

    async def chat(self, request: Request) -> Response:
        """A simulated user's chat so far."""
        entries = self.simulator.chats.get(request.path_params["user"], [])
        return JSONResponse({"entries": [entry.to_dict() for entry in entries]})

    async def act(self, request: Request) -> Response:
        """What the user does: type, tap, share a location; restart, speak, force, replay."""
        user, action = request.path_params["user"], request.path_params["action"]
        body = await _json_object(request)
        simulator = self.simulator
        if action == "text":
            await simulator.say(user, str(body["text"]))
        elif action == "tap":
            await simulator.tap(user, str(body["id"]), str(body["title"]), row=bool(body["row"]))
        elif action == "location":
            latitude, longitude = float(body["latitude"]), float(body["longitude"])
            await simulator.share_location(user, latitude, longitude, str(body.get("name", "")))
        elif action == "restart":
            await simulator.restart(user)
        elif action == "locale":
            await simulator.speak(user, str(body["locale"]))
        elif action == "force":
            self._force(user, body)
        elif action == "replay":
            await self._replay(user, body)
        else:
            raise KeyError(action)
        return JSONResponse({"ok": True})

    def _force(self, user: str, body: dict[str, Any]) -> None:
        flow = self.flow(body.get("flow"))
        state_id, result = str(body["state"]), str(body["result"])
        component = flow.states_map[state_id]
        if not isinstance(component, ComponentBase) or result not in component.results:
            raise ValueError(f"{state_id} cannot finish with {result!r}")
        self.simulator.force(user, state_id, result)

    async def _replay(self, user: str, body: dict[str, Any]) -> None:
        """One move of a generated path: its forced results, then its message or wait."""
        path: TestPath = (await aplan(self.flow(body.get("flow")))).paths[int(body["path"])]
        move = path.moves[int(body["move"])]
        if move.kind == "start":
            await self.simulator.restart(user)
            return
        for state_id, result in move.forced:
            self.simulator.force(user, state_id, result)
        if move.kind == "wait":
            assert move.timer is not None
            await self.simulator.fire(user, move.timer)  # the clock moves to when it is due
            return
        if move.resume is not None:
            await self.simulator.resume(user, move.resume)
            return
        assert move.input is not None
        await self.simulator.say(user, move.input)

    async def paths(self, request: Request) -> Response:
        """The generated test paths of a flow."""
        plan = await aplan(self.flow(request.path_params["flow"]))
        return JSONResponse(
            {
                "paths": [
                    {
                        "lines": path.describe(),
                        "moves": [
                            {
                                "kind": m.kind,
                                "input": m.input,
                                "timer": m.timer,
                                "after": m.after,
                                "forced": [list(f) for f in m.forced],
                            }
                            for m in path.moves
                        ],
                        "finished": path.finished,
                    }
                    for path in plan.paths
                ]
            }
        )

    async def conversation_state(self, request: Request) -> Response:
        """A simulated user's stored conversation (redacted) and step timeline."""
        user = request.path_params["user"]
        own = Inspector(self.simulator.store, self.flows)
        shown = await own.conversation(ConversationKey(CHANNEL, user))
        timeline = self.simulator.timelines.get(user, [])
        return JSONResponse({"conversation": shown, "timeline": timeline})

    # -- time ------------------------------------------------------------------------------

    async def timers(self, request: Request) -> Response:
        """A simulated user's pending timers, with the console's time."""
        user = request.path_params["user"]
        found = await self.simulator.timers(user)
        clock = self.simulator.clock_state()
        shown = [describe_timer(timer, clock["now"]) for timer in found]
        return JSONResponse({**clock, "timers": shown})

    async def fire_timer(self, request: Request) -> Response:
        """Fire one of a simulated user's timers now: ``{"timer": id}``."""
        body = await _json_object(request)
        fired = await self.simulator.fire(request.path_params["user"], str(body["timer"]))
        return JSONResponse({**self.simulator.clock_state(), "fired": fired})

    async def clock(self, request: Request) -> Response:
        """The console's time; POST ``{"advance": seconds}`` moves it ahead."""
        if request.method == "POST":
            body = await _json_object(request)
            seconds = body["advance"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ValueError(f"advance is a number of seconds, not {seconds!r}")
            fired = await self.simulator.advance(float(seconds))
            return JSONResponse({**self.simulator.clock_state(), "fired": fired})
        return JSONResponse(self.simulator.clock_state())

    async def diagram(self, request: Request) -> Response:
        """The flow's SVG, the user's (or a stored conversation's) states highlighted."""
        flow = self.flow(request.path_params["flow"])
        user, key = request.query_params.get("user"), request.query_params.get("key")
        active: list[str] = []
        taken: list[tuple[str, str | None, str]] = []
        if user:
            store = self.simulator.store
            document = (await store.load(ConversationKey(CHANNEL, user))).document
            if document is not None and document.chart.flow == flow.name:
                active = document.chart.configuration
            step = self.simulator.last_step.get(user)
            if step is not None and step.flow == flow.name:
                taken = list(step.transitions)
        elif key:
            shown = await self.inspector.conversation(ConversationKey.parse(key))
            if shown is not None and shown["document"]["chart"]["flow"] == flow.name:
                active = shown["document"]["chart"]["configuration"]
        svg = await asyncio.to_thread(diagrams.to_svg, flow, active=active, taken=taken)
        return Response(svg, media_type="image/svg+xml")

    # -- the inspector ---------------------------------------------------------------------

    async def conversations(self, request: Request) -> Response:
        """A page of stored conversations (SCAN), filtered by flow and state."""
        params = request.query_params
        cursor = params.get("cursor", "0")
        page = await self.inspector.page(
            cursor if cursor.isdigit() else "0",
            count=min(int(params.get("count", "50")), 500),
            flow=params.get("flow") or None,
            state=params.get("state") or None,
        )
        return JSONResponse(page)

    async def conversation(self, request: Request) -> Response:
        """One stored conversation, redacted; POST deletes it (only with allow_reset)."""
        key = ConversationKey.parse(request.path_params["key"])
        if request.method == "POST":
            if not self.allow_reset:
                refusal = {"error": "read-only: start the console with --allow-reset"}
                return JSONResponse(refusal, status_code=403)
            return JSONResponse({"deleted": await self.inspector.store.delete(key)})
        shown = await self.inspector.conversation(key)
        if shown is None:
            raise KeyError(str(key))
        return JSONResponse(shown)

    async def funnel(self, request: Request) -> Response:
        """Where a flow's conversations are, and how they ended."""
        sample = min(int(request.query_params.get("sample", "5000")), 100_000)
        result = await self.inspector.funnel(request.path_params["flow"], sample=sample)
        return JSONResponse(result.to_dict())

    # -- hot reload and lifecycle ------------------------------------------------------------

    async def watch(self) -> None:
        """Reload the flows when their files change; a broken edit keeps the running ones."""
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=self.reload_every)
                return
            if not self.source.changed():
                continue
            try:
                loaded = await asyncio.to_thread(self.source.load)
            except Exception as exc:  # an edit that does not load: say why, keep going
                logger.warning("flow reload failed: %s", exc)
                self.bus.publish({"type": "reload", "ok": False, "error": str(exc)})
                continue
            await self.simulator.reload(loaded)
            self.flows = loaded
            self.inspector = Inspector(self.inspect_store or self.simulator.store, loaded)
            self.bus.publish({"type": "reload", "ok": True, "flows": [f.name for f in loaded]})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Start the simulator and the watcher; stop them."""
        await self.simulator.start()
        watcher = asyncio.create_task(self.watch()) if self.reload_every else None
        try:
            yield
        finally:
            self.stop.set()
            if watcher is not None:
                await watcher
            await self.simulator.stop()
            await self.simulator.store.close()
            if self.simulator.api is not None:
                await self.simulator.api.aclose()
            if self.inspect_store is not None:
                await self.inspect_store.close()


async def _json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (``{}`` when empty)."""
    body: Any = await request.json() if await request.body() else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _describe(flow: type[Flow]) -> dict[str, Any]:
    """What the page needs to know of a flow: its states and what each can be forced to."""
    forceable = {
        state.id: list(state.results)
        for state in flow.states_map.values()
        if isinstance(state, ComponentBase) and not state.accepts_input
    }
    return {"name": flow.name, "states": list(flow.states_map), "forceable": forceable}

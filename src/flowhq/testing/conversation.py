"""``Conversation``: talk to a flow in a test the way a user would."""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any

import httpx

from flowhq.headquarters import Headquarters
from flowhq.messaging import InboundMessage, OutboundMessage
from flowhq.messaging.key import ConversationKey
from flowhq.persistence import MemoryStore, Store
from flowhq.runtime.records import ForcedResult, Outcome, StepRecord
from flowhq.state import Messaging, Role, StateManager
from flowhq.statecharts import Flow
from flowhq.testing.clock import ManualClock
from flowhq.testing.coverage import TransitionCoverage, active_coverage

__all__ = ["Conversation"]


class _Observer:
    """Forces queued results and forwards committed steps to coverage and the harness."""

    def __init__(self, coverage: TransitionCoverage | None) -> None:
        self.forced: defaultdict[str, deque[ForcedResult]] = defaultdict(deque)
        self.coverage = coverage
        self.records: list[StepRecord] = []

    def forced_result(self, flow: str, state: str, conversation: str) -> ForcedResult | None:
        queue = self.forced.get(state)
        return queue.popleft() if queue else None

    def committed(self, record: StepRecord) -> None:
        self.records.append(record)
        if self.coverage is not None:
            self.coverage.record(record)


class _NoApi(httpx.AsyncBaseTransport):
    """Stands in for the API of a flow tested without one.

    Any request fails, saying how to test it: force the ApiCall's result, or pass ``api=``.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"no API in this test for {request.method} {request.url.path}: pass "
            "Conversation(..., api=httpx.AsyncClient(...)) or force the result with "
            "conversation.force_result(state, result)",
            request=request,
        )


def no_api() -> httpx.AsyncClient:
    """An API client that answers nothing (every request is a connection error)."""
    return httpx.AsyncClient(transport=_NoApi(), base_url="http://no-api.invalid")


class Conversation:
    """One user talking to a flow, for tests.

    Runs on ``MemoryStore`` unless given a store (a ``RedisStore`` in integration tests).
    API calls go to the real ``httpx.AsyncClient`` you pass; nothing is faked, except the
    results you force with :meth:`force_result`.

    Args:
        target: A flow class, or a ``Headquarters`` you built.
        store: The store for a flow class (default: a new ``MemoryStore``).
        api: The httpx client ``ApiCall`` uses, for a flow class (default: none; requests
            fail as a connection error unless you force the ApiCall's result).
        channel: Channel type of the test user.
        identifier: Identifier of the test user.
        coverage: Where committed transitions are recorded (default: the recorder of
            ``pytest --flowhq-coverage`` when it is on).
        clock: The time, for a flow class (default: a new ``ManualClock``, which moves
            only by :meth:`advance`); a ``Headquarters`` you built brings its own.

    Example::

        async with Conversation(Signup, api=client) as c:
            await c.say("hi")
            assert c.last_reply.text == "What's your name?"
    """

    def __init__(
        self,
        target: type[Flow] | Headquarters,
        *,
        store: Store | None = None,
        api: httpx.AsyncClient | None = None,
        channel: str = "test",
        identifier: str = "+15550000000",
        coverage: TransitionCoverage | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        coverage = coverage if coverage is not None else active_coverage.get()
        self._observer = _Observer(coverage)
        if isinstance(target, Headquarters):
            self.hq = target
            self.hq.observer = self._observer
        else:
            self.hq = Headquarters(
                flows=[target],
                store=store or MemoryStore(),
                api=api or no_api(),
                clock=clock or ManualClock(),
            )
            self.hq.observer = self._observer
        if coverage is not None:
            for flow_cls in self.hq.flows.values():
                coverage.register(flow_cls)
        self.key = ConversationKey(channel, identifier)
        self.replies: list[OutboundMessage] = []
        """Every reply so far, in order."""
        self.outcome: Outcome | None = None
        """The outcome of the latest step."""
        self._ids = (f"test-{n}" for n in itertools.count(1))
        self._view: StateManager | None = None

    async def __aenter__(self) -> Conversation:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Detach from the Headquarters (it stops forcing results and recording)."""
        if self.hq.observer is self._observer:
            self.hq.observer = None

    # -- talking ---------------------------------------------------------------------------

    async def start(
        self,
        flow: str | None = None,
        *,
        data: Mapping[str, Any] | None = None,
        interrupt: bool = False,
        replace: bool = False,
    ) -> list[str]:
        """Begin a flow without a user message (as ``Headquarters.start``)."""
        outcome = await self.hq.start(
            self.key.channel,
            self.key.identifier,
            flow,
            data=data,
            interrupt=interrupt,
            replace=replace,
        )
        return await self._record(outcome)

    async def advance(self, delta: timedelta | float) -> list[str]:
        """Move the clock forward and fire what became due; return the replies.

        Raises:
            TypeError: the Headquarters' clock is not a ``ManualClock``.
        """
        clock = self.hq.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance() needs Headquarters(clock=ManualClock())")
        clock.advance(delta)
        return await self._record(await self.hq.fire(self.key.channel, self.key.identifier))

    async def say(self, text: str) -> list[str]:
        """Send a text message; return the texts of this step's replies."""
        return await self.send(
            InboundMessage(self.key.channel, self.key.identifier, next(self._ids), text)
        )

    async def press(self, button_id: str) -> list[str]:
        """Press a reply button or list row (an interactive message carrying its id)."""
        return await self.send(
            InboundMessage(
                self.key.channel,
                self.key.identifier,
                next(self._ids),
                payload=button_id,
                kind="interactive",
            )
        )

    async def send(self, inbound: InboundMessage) -> list[str]:
        """Send any inbound message (an image, a duplicate id, ...)."""
        return await self._record(await self.hq.handle(inbound))

    async def pause(self, reason: str | None = None) -> list[str]:
        """Pause the bot here, as a person taking over would (``Headquarters.pause``)."""
        return await self._record(
            await self.hq.pause(self.key.channel, self.key.identifier, reason=reason)
        )

    async def resume(self, result: str = "resumed") -> list[str]:
        """Give the conversation back to the bot (``Headquarters.resume``); the replies."""
        return await self._record(
            await self.hq.resume(self.key.channel, self.key.identifier, result)
        )

    async def reply_as_agent(self, text: str, *, agent: str | None = None) -> list[str]:
        """Answer as a person (``Headquarters.reply_as_agent``)."""
        return await self._record(
            await self.hq.reply_as_agent(self.key.channel, self.key.identifier, text, agent=agent)
        )

    @property
    def paused(self) -> bool:
        """Whether a person has the conversation (after the last call)."""
        return self.outcome is not None and self.outcome.paused

    def force_result(
        self, state: str, result: str, *, values: Mapping[str, Any] | None = None
    ) -> None:
        """Make the next entry of ``state`` (an ApiCall or Action) finish with ``result``.

        The component does not run: no HTTP request is made for it. ``values`` are what it
        would have saved (names it declares in ``saves=``), for the states after it. Other
        components run as usual. Calls queue up: force twice to force two entries.
        """
        self._observer.forced[state].append(ForcedResult(result, dict(values or {})))

    def clear_forced(self) -> None:
        """Drop results forced but not used yet."""
        self._observer.forced.clear()

    async def _record(self, outcome: Outcome) -> list[str]:
        self.outcome = outcome
        self.replies.extend(outcome.replies)
        document = (await self.hq.store.load(self.key)).document
        self._view = None
        if document is not None:
            self._view = StateManager(
                document,
                component=document.current.component or "",
                role=Role.DISPLAY,
                messaging=Messaging(),
            )
        return [reply.text for reply in outcome.replies]

    # -- looking ---------------------------------------------------------------------------

    @property
    def last_reply(self) -> OutboundMessage | None:
        """The latest reply, if any."""
        return self.replies[-1] if self.replies else None

    @property
    def configuration(self) -> list[str]:
        """The chart's active states after the latest step."""
        return list(self.outcome.configuration) if self.outcome else []

    @property
    def finished(self) -> bool:
        """Whether the flow reached a final state in the latest step."""
        return bool(self.outcome and self.outcome.finished)

    @property
    def state(self) -> StateManager:
        """A read-only view of the stored document with the seed's accessors.

        ``get_component()`` is the component waiting for input; writes raise
        ``StateAccessError``.

        Raises:
            LookupError: before the first step.
        """
        if self._view is None:
            raise LookupError("nothing stored yet: say something first")
        return self._view

    @property
    def records(self) -> list[StepRecord]:
        """What each committed step fired and which transitions it took."""
        return list(self._observer.records)

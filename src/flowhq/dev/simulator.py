"""The console's WhatsApp simulator: the real channel code, end to end, on one machine.

A message typed in the page becomes a signed Cloud API webhook delivery posted to the real
``webhook_app``; its workers run the flows through ``Headquarters``; the replies leave through
the real ``WhatsAppMessenger`` to a ``FakeGraphApi`` inside the console, which records them
(or refuses them, as WhatsApp would: a 4th button, a 25-character row title) and tells the
page. Limits, retries, read receipts with the typing indicator, stale buttons: what the page
shows is what WhatsApp would do.

Time is the console's own (:class:`~flowhq.dev.clock.ConsoleClock`): the timers of the flows
fire as it runs, and the page can fire one now or move the clock ahead
(:class:`~flowhq.dev.time_control.TimeControl`). Replies of timers reach the chat like any
other, through the messenger and the fake Graph API.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import attrs
import httpx
from attrs import define, field

from flowhq.channels.whatsapp import CHANNEL, WhatsAppMessenger, webhook_app
from flowhq.channels.whatsapp.signature import SIGNATURE_HEADER, sign
from flowhq.dev.clock import ConsoleClock
from flowhq.dev.events import EventBus
from flowhq.dev.time_control import TimeControl
from flowhq.errors import FlowError
from flowhq.headquarters import Headquarters
from flowhq.i18n import Translations
from flowhq.inbox import MemoryQueue
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import OutboundMessage
from flowhq.persistence.store import Store
from flowhq.runtime.records import StepRecord
from flowhq.runtime.settings import DeliveryOptions
from flowhq.state.document import Timer
from flowhq.statecharts.flow import Flow
from flowhq.testing.whatsapp import payloads
from flowhq.testing.whatsapp.fake_graph import Delivery, FakeGraphApi, ReadRequest, Refusal

__all__ = ["ChatEntry", "Simulator"]

logger = logging.getLogger("flowhq.dev")

PHONE_NUMBER_ID = "100000000000001"
"""The simulated business number."""


@define
class ChatEntry:
    """One bubble of a simulated chat.

    ``direction`` is ``in`` (the user), ``out`` (the bot) or ``system`` (a console notice);
    ``kind`` is ``text``, ``buttons``, ``list``, ``location``, ``refused`` or ``notice``.
    ``at`` is the console's time (epoch seconds) when the simulator recorded it.
    """

    id: int
    user: str
    direction: str
    kind: str
    text: str
    at: float = 0.0
    options: list[dict[str, str | None]] = field(factory=list)
    label: str | None = None
    wamid: str | None = None
    status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the page."""
        return attrs.asdict(self)


def _from_payload(entry_id: int, user: str, delivery: Delivery) -> ChatEntry:
    """A bot bubble from the Cloud API payload the messenger sent."""
    payload = delivery.payload
    body = delivery.text
    if payload.get("type") != "interactive":
        return ChatEntry(entry_id, user, "out", "text", body, wamid=delivery.wamid)
    interactive_part = payload["interactive"]
    action = interactive_part.get("action", {})
    if interactive_part.get("type") == "button":
        options: list[dict[str, str | None]] = [
            {"id": b["reply"]["id"], "title": b["reply"]["title"], "description": None}
            for b in action.get("buttons", [])
        ]
        return ChatEntry(
            entry_id, user, "out", "buttons", body, options=options, wamid=delivery.wamid
        )
    rows = [
        {"id": row["id"], "title": row["title"], "description": row.get("description")}
        for section in action.get("sections", [])
        for row in section.get("rows", [])
    ]
    return ChatEntry(
        entry_id,
        user,
        "out",
        "list",
        body,
        options=rows,
        label=action.get("button"),
        wamid=delivery.wamid,
    )


class _Observer:
    """Forces the results the page asked for; reports committed steps to the page."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.forced: defaultdict[tuple[str, str], deque[str]] = defaultdict(deque)

    def forced_result(self, flow: str, state: str, conversation: str) -> str | None:
        user = conversation.partition(":")[2]
        queue = self.forced.get((user, state))
        return queue.popleft() if queue else None

    def committed(self, record: StepRecord) -> None:
        self.simulator.record_step(record)


class Simulator:
    """Simulated WhatsApp users talking to flows through the real channel code.

    Args:
        flows: The flow classes (the first is the entry flow).
        store: Where conversations live (Redis with ``--redis``, else memory).
        api: The API client ``ApiCall``s use.
        bus: Where events for the page go.
        translations: The flows' texts in other languages (a user's language is switched
            with :meth:`speak`).
    """

    def __init__(
        self,
        flows: list[type[Flow]],
        *,
        store: Store,
        api: httpx.AsyncClient | None,
        bus: EventBus,
        translations: Translations | None = None,
    ) -> None:
        self.translations = translations
        self.flows = flows
        self.store = store
        self.api = api
        self.bus = bus
        self.token = secrets.token_urlsafe(24)
        self.app_secret = secrets.token_urlsafe(24)
        self.graph = FakeGraphApi(
            access_token=self.token, phone_number_id=PHONE_NUMBER_ID, listener=self._on_graph
        )
        self.users: list[str] = ["15550001001"]
        self.chats: defaultdict[str, list[ChatEntry]] = defaultdict(list)
        self.timelines: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.last_step: dict[str, StepRecord] = {}
        self.observer = _Observer(self)
        self.clock = ConsoleClock()
        self.time = TimeControl(self.clock)
        self._ids = itertools.count(1)
        self._wamids: dict[str, str] = {}  # inbound message id -> user
        self._core: contextlib.AsyncExitStack | None = None
        self.hq: Headquarters | None = None
        self._client: httpx.AsyncClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the Headquarters, the webhook app and its workers."""
        stack = contextlib.AsyncExitStack()
        graph_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.graph), base_url="http://graph.local"
        )
        messenger = WhatsAppMessenger(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=self.token,
            base_url="http://graph.local",
            client=graph_client,
            backoff=0.05,
        )
        self.hq = Headquarters(
            flows=self.flows,
            store=self.store,
            messenger=messenger,
            api=self.api,
            observer=self.observer,
            delivery=DeliveryOptions(redelivery_after=5.0),
            clock=self.clock,
            on_undeliverable=self._undeliverable,
            translations=self.translations,
        )
        app = webhook_app(
            self.hq,
            app_secret=self.app_secret,
            verify_token=secrets.token_urlsafe(8),
            queue=MemoryQueue(),
            redeliver_every=5.0,
            timers=False,  # the console fires timers on its own clock (TimeControl)
            close_headquarters=False,  # the store and the API client outlive reloads
        )
        stack.push_async_callback(graph_client.aclose)  # after the workers stopped sending
        await stack.enter_async_context(_lifespan(app))
        self._client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://webhook")
        )
        await stack.enter_async_context(_running(self.time.run, self.hq))  # stops first
        self._core = stack

    async def stop(self) -> None:
        """Stop the workers (the store and API client stay open: the console owns them)."""
        if self._core is not None:
            await self._core.aclose()
            self._core = None

    async def reload(self, flows: list[type[Flow]]) -> None:
        """Swap in new flow classes; conversations continue where the flows allow."""
        await self.stop()
        self.flows = flows
        await self.start()
        for user in self.users:
            self._notice(user, "The flow was reloaded; the conversation continues from here.")

    # -- what the page does ------------------------------------------------------------------

    def add_user(self) -> str:
        """A new simulated user (the next phone number)."""
        user = str(int(self.users[-1]) + 1)
        self.users.append(user)
        return user

    async def say(self, user: str, text: str) -> None:
        """The user types ``text``."""
        message = payloads.text(user, text)
        self._inbound(user, message["id"], "text", text)
        await self._post(message)

    async def tap(self, user: str, reply_id: str, title: str, *, row: bool) -> None:
        """The user taps a reply button (or a list row, with ``row``)."""
        reply = payloads.list_reply if row else payloads.button_reply
        message = reply(user, reply_id, title)
        self._inbound(user, message["id"], "text", title)
        await self._post(message)

    async def share_location(self, user: str, latitude: float, longitude: float, name: str) -> None:
        """The user shares a location."""
        message = payloads.location(user, latitude, longitude, name=name)
        self._inbound(user, message["id"], "location", f"📍 {name or ''} {latitude}, {longitude}")
        await self._post(message)

    async def restart(self, user: str) -> None:
        """Leave the flow the user is in and begin the entry flow again.

        As ``start(replace=True)``: the values saved so far stay, and so does when the user
        last wrote. Deleting the conversation would forget that too, and WhatsApp's 24-hour
        window with it: the new question could not be sent.
        """
        assert self.hq is not None
        self._notice(user, "Conversation restarted.")
        await self.hq.start(CHANNEL, user, replace=True)

    async def pause(self, user: str, reason: str | None = None) -> None:
        """A person takes ``user``'s conversation over (``Headquarters.pause``)."""
        assert self.hq is not None
        self._notice(user, "Paused: a person answers this conversation.")
        await self.hq.pause(CHANNEL, user, reason=reason)

    async def resume(self, user: str, result: str = "resumed") -> None:
        """Give ``user``'s conversation back to the bot (``Headquarters.resume``)."""
        assert self.hq is not None
        self._notice(user, f"Resumed ({result}).")
        await self.hq.resume(CHANNEL, user, result)

    async def reply_as_agent(self, user: str, text: str, agent: str | None = None) -> None:
        """A person answers ``user`` through the bot's number."""
        assert self.hq is not None
        await self.hq.reply_as_agent(CHANNEL, user, text, agent=agent)

    async def speak(self, user: str, locale: str) -> None:
        """Make ``user`` a speaker of ``locale`` (saved as their ``locale``; docs/i18n.md).

        Raises:
            InputError: a locale Babel does not know.
        """
        assert self.hq is not None
        await self.hq.initialize(CHANNEL, user, locale=locale)
        self._notice(user, f"Language: {locale}.")

    async def timers(self, user: str) -> list[Timer]:
        """The pending timers of ``user``'s conversation, soonest first."""
        assert self.hq is not None
        return await self.hq.timers(CHANNEL, user)

    async def fire(self, user: str, timer_id: str) -> list[str]:
        """Fire the timer ``timer_id`` of ``user``'s conversation now (see ``TimeControl``).

        Returns:
            The ids of the timers that fired.
        """
        assert self.hq is not None
        fired = await self.time.fire(self.hq, ConversationKey(CHANNEL, user), timer_id)
        self.publish_clock()
        return fired

    async def advance(self, seconds: float) -> int:
        """Move the console's clock ``seconds`` ahead, firing what falls due on the way.

        Returns:
            How many timers fired.
        """
        assert self.hq is not None
        fired = await self.time.advance(self.hq, seconds)
        self.publish_clock()
        return fired

    def clock_state(self) -> dict[str, float]:
        """The console's time (epoch seconds) and how far ahead of real time it runs."""
        return {"now": self.clock.timestamp(), "ahead": self.clock.ahead}

    def publish_clock(self) -> None:
        """Tell the pages the console's clock moved."""
        self.bus.publish({"type": "clock", **self.clock_state()})

    def force(self, user: str, state: str, result: str) -> None:
        """Make the next entry of ``state`` in ``user``'s conversation finish with ``result``."""
        self.observer.forced[(user, state)].append(result)
        self._notice(user, f"Next time {state} runs, it finishes with {result!r}.")

    # -- bookkeeping -------------------------------------------------------------------------

    def record_step(self, record: StepRecord) -> None:
        """Add a committed step to its user's timeline and tell the page."""
        user = record.conversation.partition(":")[2]
        self.last_step[user] = record
        step = {
            "at": self.clock.timestamp(),
            "message": record.message,
            "fired": [{"state": s, "result": r} for s, r in record.fired],
            "transitions": [
                {"source": s, "target": t, "event": e} for s, t, e in record.transitions
            ],
            "replies": list(record.replies),
            "configuration": list(record.configuration),
            "finished": record.finished,
            "flow": record.flow,
        }
        self.timelines[user].append(step)
        del self.timelines[user][:-200]
        self.bus.publish({"type": "step", "user": user, "step": step})

    def _inbound(self, user: str, wamid: str, kind: str, text: str) -> None:
        if user not in self.users:
            self.users.append(user)
        self._wamids[wamid] = user
        entry = ChatEntry(next(self._ids), user, "in", kind, text, wamid=wamid, status="sent")
        self._add(entry)

    def _notice(self, user: str, text: str) -> None:
        self._add(ChatEntry(next(self._ids), user, "system", "notice", text))

    def _add(self, entry: ChatEntry) -> None:
        entry.at = self.clock.timestamp()  # the console's time: a jump ahead shows in the chat
        chat = self.chats[entry.user]
        chat.append(entry)
        del chat[:-500]
        self.bus.publish({"type": "message", "user": entry.user, "entry": entry.to_dict()})

    def _undeliverable(
        self, key: ConversationKey, messages: list[OutboundMessage], reason: str
    ) -> None:
        """Replies the channel cannot send (outside WhatsApp's 24-hour window): say so."""
        for message in messages:
            text = f"Not sent, {reason}: {message.text}"
            self._add(ChatEntry(next(self._ids), key.identifier, "system", "refused", text))

    def _on_graph(self, item: Delivery | ReadRequest | Refusal) -> None:
        if isinstance(item, Delivery):
            self._add(_from_payload(next(self._ids), item.to, item))
        elif isinstance(item, Refusal):
            text = f"WhatsApp refused this message ({item.code}): {item.details}"
            self._add(ChatEntry(next(self._ids), item.to, "system", "refused", text))
        else:
            user = self._wamids.get(item.message_id)
            if user is None:
                return
            for entry in reversed(self.chats[user]):
                if entry.wamid == item.message_id:
                    entry.status = "read"
                    break
            self.bus.publish(
                {"type": "read", "user": user, "wamid": item.message_id, "typing": item.typing}
            )

    async def _post(self, message: dict[str, Any]) -> None:
        """Deliver a webhook the way Meta does: a signed POST to the webhook app."""
        assert self._client is not None
        body = payloads.delivery(
            ([message], []), phone_number_id=PHONE_NUMBER_ID, profile_name="Console user"
        )
        response = await self._client.post(
            "/webhook",
            content=body,
            headers={
                "content-type": "application/json",
                SIGNATURE_HEADER: sign(body, self.app_secret),
            },
        )
        if response.status_code != 200:
            raise FlowError(f"the webhook app answered {response.status_code}: {response.text}")


@contextlib.asynccontextmanager
async def _running(
    loop: Callable[[Headquarters, asyncio.Event], Coroutine[Any, Any, None]], hq: Headquarters
) -> AsyncIterator[None]:
    """Run ``loop(hq, stop)`` as a task for the duration of the context."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(hq, stop), name="flowhq-dev-timers")
    try:
        yield
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """Run a Starlette app's lifespan (its workers) inside the console's."""
    context: Callable[[Any], Any] = app.router.lifespan_context
    async with context(app):
        yield

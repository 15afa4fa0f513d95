"""The example flows, end to end through Headquarters on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from examples import clinic
from examples.clinic import Booking, VisitReminder, schedule_reminder
from examples.demo_api import DemoApi
from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    ConversationKey,
    Headquarters,
    InboundMessage,
    MemoryStore,
    OutboundMessage,
    RecordingMessenger,
)
from flowhq.testing import Conversation, ManualClock


class Chat:
    def __init__(self, hq: Headquarters, identifier: str = "+15550001") -> None:
        self.hq = hq
        self.identifier = identifier
        self.count = 0

    async def say(self, text: str) -> list[str]:
        self.count += 1
        outcome = await self.hq.handle(
            InboundMessage("whatsapp", self.identifier, f"wamid.{self.count}", text)
        )
        self.last = outcome
        return [reply.text for reply in outcome.replies]


async def test_signup_happy_path(
    api_client: httpx.AsyncClient, demo_api: tuple[DemoApi, str]
) -> None:
    messenger = RecordingMessenger()
    hq = Headquarters(flows=[Signup], store=MemoryStore(), messenger=messenger, api=api_client)
    chat = Chat(hq, "+15550100")
    assert await chat.say("hi") == ["What's your name?"]
    assert await chat.say("Ann") == ["Thanks Ann! Your email?"]
    assert await chat.say("nope") == [
        "That doesn't look like an email address.\nThanks Ann! Your email?"
    ]
    assert await chat.say("ann@Example.COM") == ["Create an account for Ann <ann@example.com>?"]
    assert chat.last.replies[0].buttons == (("yes", "yes"), ("no", "no"))
    assert await chat.say("yes") == ["Welcome aboard, Ann!"]
    assert chat.last.finished
    assert {"name": "Ann", "email": "ann@example.com"}.items() <= demo_api[0].users[-1].items()
    assert messenger.texts()[-1] == "Welcome aboard, Ann!"


async def test_support_menu_help_returns_where_you_were() -> None:
    hq = Headquarters(flows=[SupportMenu], store=MemoryStore())
    chat = Chat(hq)
    await chat.say("hello")
    assert await chat.say("2") == ["Which device?"]
    replies = await chat.say("help")
    assert replies[0].startswith("Answer the question")
    assert replies[1] == "Which device?"
    assert chat.last.configuration == ["support", "device"]
    assert await chat.say("Laptop") == ["What happens on your Laptop?"]
    assert await chat.say("help") == [
        "Answer the question, or type 'cancel' to stop. Back to it:",
        "What happens on your Laptop?",  # deep history: the exact question, not the menu
    ]
    assert await chat.say("it is slow") == ["Thanks! A technician will look at your Laptop."]
    assert chat.last.finished


async def test_support_menu_cancel_from_inside() -> None:
    hq = Headquarters(flows=[SupportMenu], store=MemoryStore())
    chat = Chat(hq)
    await chat.say("hello")
    await chat.say("billing")
    assert await chat.say("cancel") == ["Cancelled. Type anything to start again."]
    assert chat.last.finished


async def test_order_status_against_real_server(api_client: httpx.AsyncClient) -> None:
    hq = Headquarters(flows=[OrderStatus], store=MemoryStore(), api=api_client)
    chat = Chat(hq)
    await chat.say("hi")
    assert await chat.say("A100") == [
        "Order A100 is shipped; it arrives tomorrow.",
        "Anything else?",
    ]
    assert await chat.say("yes") == ["What's your order number?"]
    assert await chat.say("Z999") == ["I couldn't find order Z999.", "Anything else?"]
    assert await chat.say("no") == ["Bye!"]


class Undeliverable:
    """Collects what ``Headquarters(on_undeliverable=...)`` is told."""

    def __init__(self) -> None:
        self.told: list[tuple[ConversationKey, list[str], str]] = []

    def __call__(self, key: ConversationKey, messages: list[OutboundMessage], why: str) -> None:
        self.told.append((key, [m.text for m in messages], why))


def clinic_bot() -> tuple[Conversation, RecordingMessenger, Undeliverable]:
    """The clinic on a manual clock (Tuesday 1 January 2030, 9:00 UTC) and WhatsApp's window."""
    messenger = RecordingMessenger(service_window=24 * 3600)
    undeliverable = Undeliverable()
    hq = Headquarters(
        flows=[Booking, VisitReminder],
        store=MemoryStore(),
        messenger=messenger,
        clock=ManualClock(),
        on_undeliverable=undeliverable,
    )
    return Conversation(hq, channel="whatsapp", identifier="+15550001"), messenger, undeliverable


async def book_thursday(c: Conversation) -> None:
    """Book Thursday 11:30, nudged once and held ten minutes on the way."""
    assert await c.say("hi") == ["Which day suits you? (Monday to Friday)"]
    assert await c.advance(timedelta(hours=2)) == ["Still there? Which day suits you?"]
    assert await c.say("thursday") == ["Checking the calendar for Thursday…"]
    assert await c.say("hello?") == ["One moment, please…"]
    assert await c.advance(timedelta(minutes=9)) == []
    assert await c.advance(timedelta(minutes=1)) == ["On Thursday we have:"]
    assert c.last_reply is not None
    assert c.last_reply.buttons[1] == ("11:30", "11:30 am")
    assert await c.press("11:30") == ["Book Thursday at 11:30 am?"]
    assert await c.say("yes") == ["Booked: Thursday at 11:30 am. We'll remind you the day before."]
    assert c.finished


async def test_clinic_reminder_interrupts_a_new_booking_and_gives_the_question_back() -> None:
    c, messenger, undeliverable = clinic_bot()
    await book_thursday(c)
    timer = await schedule_reminder(c.hq, c.key)
    (pending,) = await c.hq.timers("whatsapp", "+15550001")
    assert pending.id == timer
    assert pending.due == datetime(2030, 1, 2, 11, 30, tzinfo=UTC).timestamp()  # Wednesday
    # Wednesday 11:00: the patient starts booking a second visit
    await c.advance(datetime(2030, 1, 2, 11, 0, tzinfo=UTC) - c.hq.clock())
    assert await c.say("hi") == ["Which day suits you? (Monday to Friday)"]
    assert await c.advance(timedelta(minutes=30)) == [
        "Reminder: your visit is tomorrow, Thursday 3 January at 11:30 am. Still coming?"
    ]
    assert c.configuration == ["coming"]
    assert await c.say("yes") == ["See you tomorrow!", "Which day suits you? (Monday to Friday)"]
    assert c.configuration == ["booking", "day"]
    assert await c.say("Friday") == ["Checking the calendar for Friday…"]
    assert messenger.texts()[-1] == "Checking the calendar for Friday…"
    assert undeliverable.told == []


async def test_clinic_reminder_outside_the_24_hour_window_is_undeliverable() -> None:
    c, messenger, undeliverable = clinic_bot()
    await book_thursday(c)
    await schedule_reminder(c.hq, c.key)
    sent = len(messenger.sent)
    clock = c.hq.clock
    assert isinstance(clock, ManualClock)
    clock.advance(datetime(2030, 1, 2, 11, 30, tzinfo=UTC) - clock.now)  # Wednesday 11:30
    assert await c.hq.fire_due() == 1  # what run_timers() does in every process
    assert len(messenger.sent) == sent  # the patient last wrote over 24 hours ago
    ((key, texts, why),) = undeliverable.told
    assert key == c.key
    assert texts == [
        "Reminder: your visit is tomorrow, Thursday 3 January at 11:30 am. Still coming?"
    ]
    assert "window" in why


async def test_clinic_booking_left_unanswered_expires_once() -> None:
    c, _, _ = clinic_bot()
    await c.say("hi")
    # the 2-hour reminder falls due with the timeout: the timeout ends the visit first
    assert await c.advance(timedelta(hours=23)) == ["No worries, write again when you're ready."]
    assert c.finished
    assert await c.advance(timedelta(days=2)) == []
    assert await c.hq.timers("whatsapp", "+15550001") == []


async def test_clinic_webhook_step_schedules_one_reminder_per_booking() -> None:
    clock = ManualClock()
    hq = Headquarters(flows=[Booking, VisitReminder], store=MemoryStore(), clock=clock)
    key = ConversationKey("whatsapp", "+15550002")

    async def say(number: int, text: str) -> list[str]:
        inbound = InboundMessage(key.channel, key.identifier, f"wamid.{number}", text)
        return [reply.text for reply in (await clinic.handle(hq, inbound)).replies]

    await say(1, "hi")
    await say(2, "Monday")
    clock.advance(timedelta(minutes=10))
    await hq.fire(key.channel, key.identifier)
    assert await say(3, "4 pm") == ["Book Monday at 4 pm?"]
    assert await hq.timers(key.channel, key.identifier) == []
    await say(4, "yes")
    await say(4, "yes")  # the webhook delivered again: a duplicate, no second reminder
    (reminder,) = await hq.timers(key.channel, key.identifier)
    assert reminder.data["flow"] == "visit_reminder"
    assert reminder.due == datetime(2030, 1, 6, 16, 0, tzinfo=UTC).timestamp()  # Sunday

"""A dental clinic's bot: booking with a deadline and a nudge, and the day-before reminder.

``Booking`` asks for a day (a reminder after 2 hours, given up after 23), waits while the
receptionist looks at the calendar, offers the free times and confirms. Once a visit is
booked, :func:`schedule_reminder` has the clinic speak first the day before it:
``VisitReminder`` starts then, on top of whatever the patient is doing, and when it ends
the patient is back at the question they were at. See docs/time.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flowhq import (
    Choice,
    Confirm,
    ConversationKey,
    Flow,
    Headquarters,
    HistoryState,
    InboundMessage,
    Message,
    Outcome,
    Prompt,
    State,
    Wait,
)
from flowhq.validators import one_of

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
SLOTS = {"09:30": "9:30 am", "11:30": "11:30 am", "16:00": "4 pm"}
"""The times the clinic offers, by option id (``HH:MM``)."""


class Booking(Flow):
    """Book a visit: a day, a look at the calendar, a time, a confirmation."""

    name = "booking"
    commands = {"help": "help", "cancel": "cancel"}

    class booking(State.Compound):
        """The questions; help and cancel work on each, and while the calendar is checked."""

        day = Prompt(
            "Which day suits you? (Monday to Friday)",
            validator=one_of(*WEEKDAYS),
            timeout=timedelta(hours=23),
            reminders=[(timedelta(hours=2), "Still there? Which day suits you?")],
            initial=True,
        )
        hold = Wait(timedelta(minutes=10), text="Checking the calendar for {day}…")
        slot = Choice("On {day} we have:", options=SLOTS, timeout=timedelta(hours=23))
        confirm = Confirm("Book {day} at {slot}?")
        back = HistoryState()
        back.to(day)

    help_text = Message("We book visits at the clinic; answer the question, or type 'cancel'.")
    booked = Message("Booked: {day} at {slot}. We'll remind you the day before.", final=True)
    expired = Message("No worries, write again when you're ready.", final=True)
    cancelled = Message("Cancelled. Write again any time.", final=True)

    valid = booking.day.to(booking.hold)
    done = booking.hold.to(booking.slot) | help_text.to(booking.back)
    chosen = booking.slot.to(booking.confirm)
    yes = booking.confirm.to(booked)
    no = booking.confirm.to(booking.day)
    timeout = booking.day.to(expired) | booking.slot.to(expired)
    help = booking.to(help_text)
    cancel = booking.to(cancelled)


class VisitReminder(Flow):
    """The day-before reminder the clinic starts (``start_data``: the visit, as shown)."""

    name = "visit_reminder"
    start_data = ("visit",)

    coming = Confirm(
        "Reminder: your visit is tomorrow, {visit}. Still coming?",
        timeout=timedelta(hours=12),
        initial=True,
    )
    thanks = Message("See you tomorrow!", final=True)
    moved = Message("We'll call you to find another time.", final=True)
    kept = Message("We'll keep your visit. Call us if anything changes.", final=True)

    yes = coming.to(thanks)
    no = coming.to(moved)
    timeout = coming.to(kept)


def visit_time(day: str, slot: str, now: datetime) -> datetime:
    """The next ``day`` (a weekday name) after ``now``'s date, at ``slot`` (``"09:30"``)."""
    ahead = (WEEKDAYS.index(day) - now.weekday()) % 7 or 7
    hour, minute = slot.split(":")
    date = now + timedelta(days=ahead)
    return date.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)


async def schedule_reminder(hq: Headquarters, key: ConversationKey) -> str | None:
    """Schedule the day-before reminder of the visit this conversation just booked.

    The reminder interrupts whatever the patient is doing then (``interrupt=True``) and
    gives the question back afterwards. Returns the scheduled start's id (for
    ``cancel_timer``), or ``None`` when the conversation has no booked visit.
    """
    loaded = await hq.store.load(key)
    values = loaded.document.current.values if loaded.document is not None else {}
    if loaded.document is None or loaded.document.chart.configuration != ["booked"]:
        return None
    visit = visit_time(values["day"], values["slot"], hq.clock())
    outcome = await hq.start(
        key.channel,
        key.identifier,
        VisitReminder.name,
        data={"visit": f"{visit:%A} {visit.day} {visit:%B} at {SLOTS[values['slot']]}"},
        at=visit - timedelta(days=1),
        interrupt=True,
    )
    return outcome.timer


async def handle(hq: Headquarters, inbound: InboundMessage) -> Outcome:
    """The clinic's webhook step: handle a patient's message; a new booking gets its reminder.

    A retried delivery of the message (``duplicate``) schedules nothing a second time.
    """
    outcome = await hq.handle(inbound)
    if outcome.flow == Booking.name and outcome.finished and not outcome.duplicate:
        await schedule_reminder(hq, ConversationKey(inbound.channel, inbound.identifier))
    return outcome

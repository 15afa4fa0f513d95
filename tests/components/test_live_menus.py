"""Live menus: ``Choice(options="slots")`` from saved data or a callable, paged and checked."""

from __future__ import annotations

from typing import Any

import pytest

from flowhq import (
    Action,
    Choice,
    Confirm,
    Flow,
    FlowDefinitionError,
    InboundMessage,
    Message,
    StateManager,
)
from flowhq.channels.whatsapp.outbound import MORE_TITLE
from flowhq.testing import Conversation, aplan, declared_transitions, replay
from flowhq.testing.whatsapp import FakeGraphApi, list_reply, text
from tests.channels.whatsapp.test_app import USER, bot, reply_ids, say
from tests.support import wait_for

SLOTS = [
    {"id": f"slot-{n}", "title": f"Dec {n + 1}, 10:00", "description": f"Dr. {n}"}
    for n in range(25)
]


def find_slots(state_manager: StateManager) -> str:
    state_manager.save_value("slots", SLOTS)
    return "done"


def find_none(state_manager: StateManager) -> str:
    state_manager.save_value("slots", {})
    return "done"


class Slots(Flow):
    name = "slots"

    look = Action(find_slots, saves=("slots",), initial=True)
    slot = Choice("Pick a time:", options="slots", menu_label="Times",
                  example={"a": "Monday 9:00", "b": "Tuesday 11:00"})  # fmt: skip
    booked = Message("Booked {slot}.", final=True)
    full = Message("No free times, sorry.", final=True)

    done = look.to(slot)
    chosen = slot.to(booked)
    empty = slot.to(full)


class NoSlots(Slots):
    name = "no_slots"

    look = Action(find_none, saves=("slots",), initial=True)
    slot = Choice("Pick a time:", options="slots")
    booked = Message("Booked {slot}.", final=True)
    full = Message("No free times, sorry.", final=True)

    done = look.to(slot)
    chosen = slot.to(booked)
    empty = slot.to(full)


def doctors(state_manager: StateManager) -> dict[str, str]:
    north = state_manager.get_value("area") == "north"
    return {"ann": "Dr. Ann", "bob": "Dr. Bob"} if north else {}


class Doctors(Flow):
    name = "doctors"

    area = Choice("Where?", options={"north": "North", "south": "South"}, initial=True)
    doctor = Choice("Who?", options=doctors)
    seen = Message("{doctor} in {area}.", final=True)
    nobody = Message("Nobody there.", final=True)

    chosen = area.to(doctor) | doctor.to(seen)
    empty = doctor.to(nobody)


async def test_options_from_a_saved_list_are_offered_and_the_title_shown() -> None:
    async with Conversation(Slots) as c:
        replies = await c.say("hi")
        assert replies == ["Pick a time:"]
        menu = c.last_reply
        assert menu is not None
        assert len(menu.buttons) == 25
        assert menu.buttons[2] == ("slot-2", "Dec 3, 10:00")
        assert menu.descriptions[2] == "Dr. 2"
        assert await c.say("Dec 4, 10:00") == ["Booked Dec 4, 10:00."]
        assert c.state.get_value("slot") == "slot-3"


async def test_no_options_finishes_empty() -> None:
    async with Conversation(NoSlots) as c:
        assert await c.say("hi") == ["No free times, sorry."]


async def test_options_from_a_callable() -> None:
    async with Conversation(Doctors) as c:
        await c.say("hi")
        await c.say("North")
        menu = c.last_reply
        assert menu is not None
        assert menu.buttons == (("ann", "Dr. Ann"), ("bob", "Dr. Bob"))
        assert await c.say("2") == ["Dr. Bob in North."]


async def test_a_typed_answer_outside_the_offered_options_re_asks() -> None:
    async with Conversation(Slots) as c:
        await c.say("hi")
        replies = await c.say("slot-99")
        assert replies == ["Please pick one of the options.\nPick a time:"]


def test_a_live_menu_must_handle_empty() -> None:
    with pytest.raises(FlowDefinitionError, match="empty"):

        class Careless(Flow):
            look = Action(find_slots, saves=("slots",), initial=True)
            slot = Choice("Pick a time:", options="slots")
            booked = Message("Booked {slot}.", final=True)

            done = look.to(slot)
            chosen = slot.to(booked)


def test_a_live_menu_reads_a_saved_value() -> None:
    with pytest.raises(FlowDefinitionError, match="slots"):

        class Unsaved(Flow):
            slot = Choice("Pick a time:", options="slots", initial=True)
            booked = Message("Booked {slot}.", final=True)
            full = Message("None.", final=True)

            chosen = slot.to(booked)
            empty = slot.to(full)


@pytest.mark.parametrize("bad", [[1, 2], "text", None])
async def test_options_of_the_wrong_shape_are_an_error(bad: Any) -> None:
    def broken(state_manager: StateManager) -> str:
        state_manager.save_value("slots", bad)
        return "done"

    class Broken(Slots):
        name = "broken"
        look = Action(broken, saves=("slots",), initial=True)
        slot = Choice("Pick a time:", options="slots")
        booked = Message("Booked {slot}.", final=True)
        full = Message("No free times, sorry.", final=True)

        done = look.to(slot)
        chosen = slot.to(booked)
        empty = slot.to(full)

    async with Conversation(Broken) as c:
        replies = await c.say("hi")
        assert replies == ["Sorry, something went wrong on our side. Please try again in a moment."]


@pytest.mark.parametrize("flow", [Slots, Doctors], ids=lambda f: f.name)
async def test_generated_paths_drive_live_menus(flow: type[Flow]) -> None:
    plan = await aplan(flow)
    assert plan.covered == declared_transitions(flow)
    for path in plan.paths:
        report = await replay(flow, path)
        assert report.followed, str(report)


async def test_the_example_drives_a_menu_whose_data_a_forced_state_saves() -> None:
    plan = await aplan(Slots)
    inputs = {move.input for path in plan.paths for move in path.moves}
    assert inputs & {"a", "b"}  # the Action is forced, so the example's options are offered


async def test_without_an_example_a_forced_state_saves_no_options() -> None:
    plan = await aplan(NoSlots)
    assert declared_transitions(NoSlots) - plan.covered == {("slot", "booked", "chosen")}


async def test_25_slots_paged_on_whatsapp_and_picked_from_page_3(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    with bot([Slots], redis_url, graph) as (url, _):
        await say(url, text(USER, "hi"))
        await wait_for(lambda: len(fake.messages(USER)) == 1)
        pages = [reply_ids(fake.messages(USER)[0])]
        for page in (2, 3):
            more = pages[-1][MORE_TITLE]
            await say(url, list_reply(USER, more, MORE_TITLE))
            await wait_for(lambda page=page: len(fake.messages(USER)) == page)
            pages.append(reply_ids(fake.messages(USER)[page - 1]))
        assert [len(page) for page in pages] == [10, 10, 7]  # 9 + More, 9 + More, 7
        assert "Dec 19, 10:00" in pages[2]
        assert MORE_TITLE not in pages[2]
        await say(url, list_reply(USER, pages[2]["Dec 21, 10:00"], "Dec 21, 10:00"))
        await wait_for(lambda: len(fake.messages(USER)) == 4)
        assert fake.texts(USER)[3] == "Booked Dec 21, 10:00."


async def test_a_tap_on_an_earlier_menu_is_stale() -> None:
    async with Conversation(Doctors) as c:
        await c.say("hi")
        first = c.last_reply
        assert first is not None
        await c.say("North")
        tap = InboundMessage(c.key.channel, c.key.identifier, "old", payload="south",
                             kind="interactive", tag=first.tag)  # fmt: skip
        assert await c.send(tap) == ["That button belongs to an earlier question.", "Who?"]
        assert c.state.get_value("area") == "north"


class Language(Flow):
    name = "language"

    language = Choice("Language?", options={"en": "English", "es": "Español"}, save_as="locale",
                      initial=True)  # fmt: skip
    sure = Confirm("Shall we go on?")
    done = Message("Done.", final=True)

    chosen = language.to(sure)
    yes = sure.to(done)
    no = sure.to(language)


async def test_a_language_menu_saving_locale_switches_the_conversation() -> None:
    async with Conversation(Language) as c:
        await c.say("hi")
        assert await c.say("Español") == ["Shall we go on?"]  # no catalog for the flow
        confirm = c.last_reply
        assert confirm is not None
        assert confirm.buttons == (("yes", "sí"), ("no", "no"))  # flowhq's own, in Spanish
        assert await c.say("claro") == ["Done."]


async def test_the_paging_row_speaks_the_conversations_language() -> None:
    from flowhq.channels.whatsapp.outbound import render
    from flowhq.runtime.outbox import entries_of, message_of

    async with Conversation(Slots) as c:
        await c.hq.initialize(c.key.channel, c.key.identifier, locale="es")
        await c.say("hola")
        menu = c.last_reply
        assert menu is not None
        assert menu.more_label == "Más…"
    kept = message_of(entries_of([menu], revision=1, queued_at=0.0, message_id=None)[0])
    assert kept.more_label == "Más…"  # the outbox keeps it for a redelivery
    rows = render(kept, "15550001")[0]["interactive"]["action"]["sections"][0]["rows"]
    assert rows[-1]["title"] == "Más…"
    assert len(rows) == 10
    async with Conversation(Slots) as english:
        await english.say("hi")
        assert english.last_reply is not None
        assert english.last_reply.more_label is None  # the channel's own "More…"

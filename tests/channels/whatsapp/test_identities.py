"""Identities on a real Redis: what one process learnt, another finds in the store; Meta's
number and BSUID change notices, as documented, move the conversation and its address."""

from __future__ import annotations

import uuid
from typing import Any

from flowhq import InboundMessage, RedisStore
from flowhq.channels.whatsapp import parse_webhook
from flowhq.channels.whatsapp.identity import Identities


def message(identifier: str, *, user_id: str | None = None, **data: object) -> InboundMessage:
    return InboundMessage(
        "whatsapp",
        identifier,
        f"wamid.{uuid.uuid4().hex}",
        "hi",
        user_id=user_id,
        data={"phone_number_id": "111", **data},
    )


async def test_a_second_process_finds_the_conversation_and_the_address(redis_url: str) -> None:
    phone = f"1555{uuid.uuid4().int % 10**7:07d}"
    bsuid = f"US.{uuid.uuid4().int % 10**18}"
    one, two = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    try:
        first, second = Identities(one), Identities(two)
        resolved = await first.resolve(message(phone, user_id=bsuid))
        assert resolved.identifier == phone
        # Another process, its cache empty, sees a message by BSUID only.
        hidden = await second.resolve(message(bsuid, user_id=bsuid))
        assert hidden.identifier == phone
        assert await second.address(phone) == f"{bsuid}|111"  # answer by BSUID now
        # The first process' cache still says the number; a fresh one asks the store.
        assert await Identities(one).address(phone) == f"{bsuid}|111"
    finally:
        await one.close()
        await two.close()


async def test_a_known_sender_costs_no_round_trip(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    calls = 0
    link = store.link_identities

    async def counted(*args: object, **kwargs: object) -> str:
        nonlocal calls
        calls += 1
        return await link(*args, **kwargs)  # type: ignore[arg-type]

    store.link_identities = counted  # type: ignore[method-assign]
    try:
        identities = Identities(store)
        phone = f"1555{uuid.uuid4().int % 10**7:07d}"
        for _ in range(5):
            await identities.resolve(message(phone))
        assert calls == 1
        await identities.resolve(message(phone, phone_number_id="222"))  # another number
        assert calls == 2  # the address changed: written through
    finally:
        await store.close()


def notice(system: dict[str, Any], **sender: str) -> InboundMessage:
    """A system notice as Meta posts it (no ``contacts``), through the parser."""
    item = {"id": f"wamid.{uuid.uuid4().hex}", "timestamp": "1776412800", "type": "system"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": "111"},
        "messages": [{**sender, **item, "system": system}],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    batch = parse_webhook(body)
    assert batch.skipped == []
    (message,) = batch.messages
    return message


def ids() -> tuple[str, str, str, str]:
    """Fresh ids: old number, new number, old BSUID, new BSUID."""
    n = uuid.uuid4().int
    return f"1555{n % 10**7:07d}", f"1556{n % 10**7:07d}", f"US.1{n % 10**18}", f"US.2{n % 10**18}"


async def test_a_number_change_as_meta_sends_it_moves_the_address(redis_url: str) -> None:
    old, new, old_bsuid, new_bsuid = ids()
    store = RedisStore.from_url(redis_url)
    try:
        identities = Identities(store)
        await identities.resolve(message(old, user_id=old_bsuid))
        system = {
            "body": f"User Kim changed from {old} to {new}",
            "wa_id": new,  # Meta's key for the new number
            "user_id": new_bsuid,
            "previous_user_id": old_bsuid,
            "type": "user_changed_number",
        }
        assert (await identities.resolve(notice(system, **{"from": old}))).identifier == old
        assert await identities.address(old) == f"{new}|111"
        assert await Identities(store).address(old) == f"{new}|111"  # kept in the store
        for later in (message(new), message(new_bsuid, user_id=new_bsuid)):
            assert (await Identities(store).resolve(later)).identifier == old
    finally:
        await store.close()


async def test_the_on_premises_new_wa_id_is_still_read(redis_url: str) -> None:
    old, new, _, _ = ids()
    store = RedisStore.from_url(redis_url)
    try:
        identities = Identities(store)
        await identities.resolve(message(old))
        system = {"body": "changed", "new_wa_id": new, "type": "user_changed_number"}
        await identities.resolve(notice(system, **{"from": old}))
        assert await identities.address(old) == f"{new}|111"
    finally:
        await store.close()


async def test_a_number_change_without_the_new_number_answers_by_the_new_bsuid(
    redis_url: str,
) -> None:
    # Meta may withhold the new number; the old one is no longer the user's.
    old, _, old_bsuid, new_bsuid = ids()
    store = RedisStore.from_url(redis_url)
    try:
        identities = Identities(store)
        await identities.resolve(message(old, user_id=old_bsuid))
        system = {
            "body": "changed",
            "user_id": new_bsuid,
            "previous_user_id": old_bsuid,
            "type": "user_changed_number",
        }
        await identities.resolve(notice(system, **{"from": old}))
        assert await identities.address(old) == f"{new_bsuid}|111"
    finally:
        await store.close()


async def test_a_bsuid_change_named_only_by_previous_user_id_keeps_the_conversation(
    redis_url: str,
) -> None:
    _, _, old_bsuid, new_bsuid = ids()
    store = RedisStore.from_url(redis_url)
    try:
        identities = Identities(store)
        await identities.resolve(message(old_bsuid, user_id=old_bsuid))
        system = {
            "body": f"User Kim changed from {old_bsuid} to {new_bsuid}",
            "user_id": new_bsuid,
            "previous_user_id": old_bsuid,
            "type": "user_changed_user_id",
        }
        changed = notice(system)  # no `from`, no `from_user_id`
        assert (changed.identifier, changed.user_id) == (old_bsuid, old_bsuid)
        assert (await identities.resolve(changed)).identifier == old_bsuid
        assert await identities.address(old_bsuid) == f"{new_bsuid}|111"
        later = message(new_bsuid, user_id=new_bsuid)
        assert (await Identities(store).resolve(later)).identifier == old_bsuid
    finally:
        await store.close()


async def test_a_bsuid_change_of_a_user_known_by_number_keeps_the_conversation(
    redis_url: str,
) -> None:
    phone, _, old_bsuid, new_bsuid = ids()
    store = RedisStore.from_url(redis_url)
    try:
        identities = Identities(store)
        await identities.resolve(message(phone, user_id=old_bsuid))
        system = {"body": "changed", "user_id": new_bsuid, "previous_user_id": old_bsuid}
        await identities.resolve(notice({**system, "type": "user_changed_user_id"}))
        # The notice names no number, but the one known still reaches the user.
        assert await identities.address(phone) == f"{phone}|111"
        assert await Identities(store).address(phone) == f"{phone}|111"
        later = message(new_bsuid, user_id=new_bsuid)
        assert (await Identities(store).resolve(later)).identifier == phone
    finally:
        await store.close()

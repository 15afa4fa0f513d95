"""Identities on a real Redis: what one process learnt, another finds in the store."""

from __future__ import annotations

import uuid

from flowhq import InboundMessage, RedisStore
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

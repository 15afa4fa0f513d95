"""An auth token is normalised on the way in; a bad one is refused without being shown."""

from __future__ import annotations

import pytest

from flowhq import ConversationKey, Headquarters, InputError, MemoryStore
from tests.flows import Age

KEY = ConversationKey("whatsapp", "+15550001")


async def test_a_token_is_normalised_and_a_bad_one_refused_without_showing_it() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[Age], store=store)
    await hq.initialize("whatsapp", "+15550001", auth_token=" tok-123\n")
    loaded = await store.load(KEY)
    assert loaded.document is not None
    assert loaded.document.auth.token == "tok-123"
    for bad in ("tok\n123", "tok\x00", "\u200btok", "   "):
        with pytest.raises(InputError) as info:
            await hq.initialize("whatsapp", "+15550001", auth_token=bad)
        assert bad.strip() not in str(info.value) or not bad.strip()

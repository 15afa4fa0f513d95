"""Auth tokens are encrypted at rest (never in the hash, never in the AOF) and keys rotate."""

from __future__ import annotations

import pytest
import redis

from flowhq import ConversationKey, Headquarters, InboundMessage, RedisStore, SnapshotError
from tests.flows import Age

KEY = ConversationKey("whatsapp", "+15550001")
REDIS_KEY = "flowhq:{whatsapp:+15550001}"


def msg(message_id: str, text: str | None = "hi", **kwargs: object) -> InboundMessage:
    return InboundMessage("whatsapp", "+15550001", message_id, text, **kwargs)  # type: ignore[arg-type]


def stored(url: str) -> bytes:
    with redis.Redis.from_url(url) as admin:
        return admin.hget(REDIS_KEY, "doc")  # type: ignore[return-value]


async def test_tokens_are_encrypted_at_rest_and_keys_rotate(redis_url: str) -> None:
    from flowhq.persistence.secrets import TokenCipher

    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    store = RedisStore.from_url(redis_url, token_keys=[old])
    hq = Headquarters(flows=[Age], store=store)
    await hq.initialize("whatsapp", "+15550001", auth_token="tok-plain-123")
    assert b"tok-plain-123" not in stored(redis_url)
    with redis.Redis.from_url(redis_url) as admin:
        aof = b"".join(path.read_bytes() for path in _aof_files(admin))
    assert b"tok-plain-123" not in aof
    await store.close()

    rotated = RedisStore.from_url(redis_url, token_keys=[new, old])
    loaded = await rotated.load(KEY)
    assert loaded.document is not None
    assert loaded.document.auth.token == "tok-plain-123"
    await Headquarters(flows=[Age], store=rotated).handle(msg("m1"))  # re-encrypts with `new`
    await rotated.close()
    only_new = RedisStore.from_url(redis_url, token_keys=[new])
    assert (await only_new.load(KEY)).document.auth.token == "tok-plain-123"  # type: ignore[union-attr]
    await only_new.close()
    without = RedisStore.from_url(redis_url)
    with pytest.raises(SnapshotError, match="encrypted"):
        await without.load(KEY)
    await without.close()


def _aof_files(admin: redis.Redis) -> list:  # type: ignore[type-arg]
    from pathlib import Path

    directory = Path(admin.config_get("dir")["dir"])
    return [p for p in directory.rglob("*") if p.is_file() and "aof" in p.name]

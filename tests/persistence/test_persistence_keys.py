"""``KeyBuilder`` spells every Redis key; the strings are part of the stored data's format."""

from __future__ import annotations

from flowhq.messaging.key import ConversationKey
from flowhq.persistence import KeyBuilder
from flowhq.persistence.redis import KeyBuilder as OldHome


def test_conversation_keys_are_unchanged_and_parse_back() -> None:
    keys = KeyBuilder()
    conversation = ConversationKey("whatsapp", "+15550001")
    assert keys.key(conversation) == "flowhq:{whatsapp:+15550001}"
    assert keys.parse(keys.key(conversation)) == conversation
    assert keys.pattern() == "flowhq:{*}"


def test_update_queue_keys_are_unchanged_and_never_taken_for_conversations() -> None:
    keys = KeyBuilder("bot")
    assert keys.updates(3) == "bot:updates:{3}"
    assert keys.lease(3) == "bot:updates:{3}:lease"
    assert keys.workers() == "bot:updates:workers"
    assert [keys.parse(key) for key in (keys.updates(3), keys.lease(3), keys.workers())] == [
        None,
        None,
        None,
    ]


def test_the_old_import_path_still_works() -> None:
    assert OldHome is KeyBuilder

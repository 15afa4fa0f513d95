"""WhatsApp webhooks: signatures, the real-payload corpus, bad input, and fuzzing.

The corpus in ``tests/channels/whatsapp/payloads/`` holds one delivery per shape of Meta's webhook
reference; every file has its own assertions below, and a test fails when a file is added
without them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowhq.channels.whatsapp as whatsapp
from flowhq.channels.whatsapp import (
    ChannelError,
    Status,
    StatusError,
    WebhookBatch,
    parse_webhook,
    verify_signature,
)
from flowhq.channels.whatsapp.inbound import MAX_UPDATES
from flowhq.errors import FlowError
from flowhq.messaging.types import InboundMessage, Location, Media

CORPUS = Path(__file__).parent / "payloads"
LOGGER = "flowhq.channels.whatsapp"
USER = "16315551181"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"


def load(name: str) -> bytes:
    return (CORPUS / f"{name}.json").read_bytes()


def corpus_payload(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(load(name))
    return payload


def envelope(*values: Any, field: str = "messages") -> dict[str, Any]:
    """One entry with one change per value."""
    changes = [{"field": field, "value": value} for value in values]
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": changes}]}


def text(message_id: str, body: str = "hi", sender: str = USER) -> dict[str, Any]:
    return {
        "from": sender,
        "id": message_id,
        "timestamp": "1712595443",
        "type": "text",
        "text": {"body": body},
    }


def status(message_id: str, state: str = "delivered") -> dict[str, Any]:
    return {"id": message_id, "status": state, "timestamp": "1712596600", "recipient_id": USER}


def only_message(batch: WebhookBatch) -> InboundMessage:
    assert batch.skipped == []
    assert batch.statuses == []
    assert len(batch.messages) == 1
    message = batch.messages[0]
    assert message.channel == "whatsapp"
    return message


def only_status(batch: WebhookBatch) -> Status:
    assert batch.skipped == []
    assert batch.messages == []
    assert len(batch.statuses) == 1
    return batch.statuses[0]


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- the public face ----------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    assert whatsapp.__all__ == sorted(whatsapp.__all__)
    assert set(whatsapp.__all__) >= {
        "Status",
        "StatusError",
        "WebhookBatch",
        "parse_webhook",
        "verify_signature",
    }
    for name in whatsapp.__all__:
        assert hasattr(whatsapp, name), name


def test_channel_error_is_a_flow_error_and_a_value_error() -> None:
    assert issubclass(ChannelError, FlowError)
    assert issubclass(ChannelError, ValueError)


# --- signatures ---------------------------------------------------------------------------

SECRET = "6f1c0a6b3e4d5f60718293a4b5c6d7e8"


def test_signature_good() -> None:
    body = load("text")
    assert verify_signature(body, sign(body, SECRET), SECRET) is True


def test_signature_digest_in_upper_case_and_padded_header() -> None:
    body = load("text")
    header = sign(body, SECRET)
    assert verify_signature(body, "  sha256=" + header[7:].upper() + " ", SECRET) is True


def test_signature_wrong_secret() -> None:
    body = load("text")
    assert verify_signature(body, sign(body, "another secret"), SECRET) is False


def test_signature_different_body() -> None:
    body = load("text")
    header = sign(body, SECRET)
    assert verify_signature(body.replace(b"book", b"cook"), header, SECRET) is False
    assert verify_signature(body + b"\n", header, SECRET) is False
    assert verify_signature(b"", header, SECRET) is False


def test_signature_missing_header() -> None:
    assert verify_signature(load("text"), None, SECRET) is False
    assert verify_signature(load("text"), "", SECRET) is False


@pytest.mark.parametrize(
    "header",
    [
        "sha256",
        "sha256=",
        "sha1=" + "0" * 40,
        "md5=" + "0" * 32,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "sha256=" + "g" * 64,
        "sha256=" + "é" * 64,
        "sha256=" + "0" * 32 + " " + "0" * 31,
        "SHA256=" + "0" * 64,
        "sha256:" + "0" * 64,
        "sha256==" + "0" * 64,
        "\x00" * 71,
    ],
)
def test_signature_malformed_header(header: str) -> None:
    assert verify_signature(load("text"), header, SECRET) is False


def test_signature_empty_secret_never_verifies() -> None:
    # An unset secret must not turn into a key anyone can sign with.
    body = load("text")
    assert verify_signature(body, sign(body, ""), "") is False


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        ("text", "sha256=" + "0" * 64, SECRET),
        (b"x", 12, SECRET),
        (b"x", "sha256=" + "0" * 64, None),
        (b"x", "sha256=" + "0" * 64, "\udcff"),
        (None, "sha256=" + "0" * 64, SECRET),
    ],
)
def test_signature_never_raises_on_wrong_types(body: Any, header: Any, secret: Any) -> None:
    assert verify_signature(body, header, secret) is False


def test_signature_accepts_bytearray_and_memoryview() -> None:
    body = load("text")
    header = sign(body, SECRET)
    assert verify_signature(bytearray(body), header, SECRET) is True
    assert verify_signature(memoryview(body), header, SECRET) is True


@settings(max_examples=200)
@given(body=st.binary(), header=st.one_of(st.none(), st.text()), secret=st.text())
def test_signature_fuzz_never_raises(body: bytes, header: str | None, secret: str) -> None:
    result = verify_signature(body, header, secret)
    assert result is False or (secret and header is not None)


# --- the corpus: one test of specific assertions per file ---------------------------------


def check_text(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "text"
    assert message.identifier == USER
    assert message.message_id == "wamid.HBgLMTYzMTU1NTExODEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.text == "Hello, I would like to book a table"
    assert message.answer == message.text
    assert message.timestamp == 1712595443.0
    assert message.reply_to is None
    assert message.data == {
        "phone_number_id": PHONE_NUMBER_ID,
        "display_phone_number": DISPLAY_NUMBER,
        "profile_name": "Kerry Fisher",
    }


def check_text_reply(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "text"
    assert message.text == "Yes, at 7pm please"
    assert message.reply_to == "wamid.HBgLMTYzMTU1NTExODEVAgARGBI2RjQ0OUMzOEVGMUFCMDhBNjEA"
    assert message.data["context"]["from"] == DISPLAY_NUMBER


def check_interactive_button_reply(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "interactive"
    assert (message.payload, message.tag, message.title) == ("confirm_yes", "q7k2", "Yes")
    assert message.text is None
    assert message.answer == "confirm_yes"
    assert message.reply_to == "wamid.HBgLMTYzMTU1NTExODEVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA=="
    assert message.data["interactive_type"] == "button_reply"
    assert "description" not in message.data


def check_interactive_list_reply(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "interactive"
    assert (message.payload, message.tag, message.title) == ("slot_1900", "t3", "7:00 pm")
    assert message.data["description"] == "Terrace, 4 seats left"
    assert message.data["interactive_type"] == "list_reply"


def check_interactive_nfm_reply(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "interactive"
    assert message.payload is None
    assert message.title is None
    assert message.data["interactive_type"] == "nfm_reply"
    assert message.data["flow_name"] == "flow"
    assert json.loads(message.data["response_json"]) == {
        "flow_token": "booking-7731",
        "party_size": "4",
        "date": "2024-04-09",
    }
    assert message.reply_to == "wamid.HBgLMTYzMTU1NTExODEVAgARGBJGTE9XMDAxMjM0NTY3ODkAAA=="


def check_button_quick_reply(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "button"
    assert (message.payload, message.tag) == ("reschedule", "ab12")
    assert message.text == message.title == "Reschedule"
    assert message.answer == "reschedule"
    assert message.reply_to == "wamid.HBgLMTYzMTU1NTExODEVAgARGBJURU1QTEFURTAwMTIzNDUA"


def check_image(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "image"
    assert message.media == Media(
        "1003383421387256",
        mime_type="image/jpeg",
        caption="The receipt",
        sha256="dS3Ebfa1lEh6Y/KTq3oTzE1Ug3x9p3gL6cO0GqVs8vE=",
        kind="image",
    )
    assert message.text == "The receipt"


def check_video(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "video"
    assert message.media is not None
    assert (message.media.id, message.media.mime_type) == ("1184728829239913", "video/mp4")
    assert message.media.caption is None
    assert message.text is None
    # A forwarded video has a context without an id: nothing is replied to.
    assert message.reply_to is None
    assert message.data["context"] == {"forwarded": True}


def check_audio_voice(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "audio"
    assert message.media is not None
    assert message.media.id == "2319883821540021"
    assert message.media.mime_type == "audio/ogg; codecs=opus"
    assert message.data["voice"] is True
    assert message.text is None


def check_document(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "document"
    assert message.media == Media(
        "874451230982231",
        mime_type="application/pdf",
        caption="Signed form",
        filename="booking-form.pdf",
        sha256="Wk2f7gqkqj6m2Jv0Xf8P3bB9s1oQd4cYzT5rU0aLnHc=",
        kind="document",
    )
    assert message.text == "Signed form"


def check_sticker(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "sticker"
    assert message.media is not None
    assert (message.media.id, message.media.mime_type) == ("781129054410022", "image/webp")
    assert message.data["animated"] is True


def check_location(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "location"
    assert message.location == Location(
        37.483307,
        -122.148981,
        name="Meta Headquarters",
        address="1 Hacker Way, Menlo Park, CA 94025",
        url="https://www.facebook.com",
    )
    assert message.text is None
    assert message.media is None


def check_contacts(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "contacts"
    (contact,) = message.data["contacts"]
    assert contact["name"]["formatted_name"] == "Barbara J. Johnson"
    assert contact["phones"][0]["wa_id"] == "19405551234"
    # The shared card is data, not the sender's profile.
    assert message.data["profile_name"] == "Kerry Fisher"


def check_reaction(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "reaction"
    assert message.data["reaction"] == {
        "message_id": "wamid.HBgLMTYzMTU1NTExODEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
        "emoji": "\N{THUMBS UP SIGN}",
    }
    assert message.text is None


def check_order(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "order"
    order = message.data["order"]
    assert order["catalog_id"] == "194836987003835"
    assert [item["product_retailer_id"] for item in order["product_items"]] == [
        "di9ozbzfi4",
        "nqryix03ez",
    ]
    assert message.text is None


def check_system_user_changed_number(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "system"
    system = message.data["system"]
    assert system["type"] == "user_changed_number"
    # Meta gives the new number as `wa_id` (not the On-Premises API's `new_wa_id`).
    assert (system["wa_id"], system["user_id"]) == ("16315551199", "US.17730069876543210987")
    # The sender is the old number, and their BSUID before the change.
    assert (message.identifier, message.user_id) == (USER, "US.17730061234567890123")
    # Meta sends no contacts block with this notice, so there is no profile name.
    assert "profile_name" not in message.data
    # The notice's body is not something the user typed.
    assert message.text is None
    assert message.answer is None


def check_unsupported(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "unsupported"
    assert message.data["type"] == "unsupported"
    assert message.data["unsupported"] == {"type": "poll_creation"}  # what the user sent
    assert [error["code"] for error in message.data["errors"]] == [131051]
    assert "problem" not in message.data


def check_unsupported_edit(batch: WebhookBatch) -> None:
    # An edit on a plain Cloud API number: Meta calls it unsupported and does not say which
    # message changed; it is an edit all the same, never an answer.
    message = only_message(batch)
    assert message.kind == "edit"
    assert (message.data["type"], message.data["unsupported"]) == ("unsupported", {"type": "edit"})
    assert [error["code"] for error in message.data["errors"]] == [131051]
    assert "original_message_id" not in message.data
    assert (message.identifier, message.user_id) == (USER, "US.17730061234567890123")
    assert message.answer is None


def check_group_text(batch: WebhookBatch) -> None:
    # A message in a group chat is not the sender's one-to-one conversation: kind "group",
    # never a flow's answer; what it says is read as usual.
    message = only_message(batch)
    assert message.kind == "group"
    assert message.data["group_id"] == "Y2FwaV9ncm91cDoxNjUwNTU1MTIzNDo4ODQ0MjIxMA=="
    assert message.data["type"] == "text"
    assert message.text == "Is the clinic open on Saturday?"
    assert (message.identifier, message.user_id) == ("16505551234", "US.17730061234567890123")


def check_referral(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "text"
    assert message.text == "Is this offer still on?"
    assert message.data["referral"]["source_type"] == "ad"
    assert message.data["referral"]["headline"] == "Book your table tonight"
    assert message.data["referral"]["ctwa_clid"].startswith("ARAkLkA8")


def _check_status(state: str, timestamp: float) -> Callable[[WebhookBatch], None]:
    def check(batch: WebhookBatch) -> None:
        assert only_status(batch) == Status(
            message_id="wamid.HBgLMTYzMTU1NTExODEVAgARGBJDMjQyMTJBRjk5NEJDQUIzRjgA",
            recipient=USER,
            status=state,
            timestamp=timestamp,
            phone_number_id=PHONE_NUMBER_ID,
            conversation_id="c8b1e7c0d2f84b6a9a5e3d7f1b2c4e6a",
            pricing_category="service",
        )

    return check


def check_status_failed(batch: WebhookBatch) -> None:
    result = only_status(batch)
    assert result.status == "failed"
    assert result.message_id == "wamid.HBgLMTYzMTU1NTExODEVAgARGBJGQUlMRUQwMDEyMzQ1Njc4OQA="
    assert result.recipient == USER
    assert result.timestamp == 1712596700.0
    assert result.conversation_id is None
    assert result.pricing_category is None
    (error,) = result.errors
    assert error == StatusError(
        131047,
        title="Re-engagement message",
        message="Re-engagement message",
        details=(
            "Message failed to send because more than 24 hours have passed since the "
            "customer last replied to this number."
        ),
    )


def check_batch_two_entries(batch: WebhookBatch) -> None:
    assert batch.skipped == []
    assert [m.message_id for m in batch.messages] == [
        "wamid.BATCH-1",
        "wamid.BATCH-2",
        "wamid.BATCH-3",
        "wamid.BATCH-4",
    ]
    assert [m.kind for m in batch.messages] == ["text", "text", "interactive", "location"]
    first, second, third, fourth = batch.messages
    assert (first.text, second.text) == ("first", "second")
    assert first.data["profile_name"] == "Kerry Fisher"
    assert third.identifier == "447700900123"
    assert third.data["profile_name"] == "Sam Lee"
    assert (third.payload, third.tag) == ("no", None)
    # Each message carries the business number of its own change.
    assert first.data["phone_number_id"] == PHONE_NUMBER_ID
    assert fourth.data["phone_number_id"] == "106540352249999"
    assert fourth.data["display_phone_number"] == "15550783999"
    assert fourth.location == Location(51.5007, -0.1246)
    assert [s.message_id for s in batch.statuses] == ["wamid.OUT-1"]
    assert batch.statuses[0].status == "delivered"
    assert batch.statuses[0].phone_number_id == PHONE_NUMBER_ID


def check_interactive_with_change_errors(batch: WebhookBatch) -> None:
    # Meta could not describe the message: it comes without content, errors on the change.
    (message,) = batch.messages
    assert message.kind == "unsupported"
    assert message.data["type"] == "interactive"
    assert message.data["problem"] == "'interactive' message: no 'interactive'"
    # The tap still says when it happened and which of our messages it answered.
    assert message.reply_to == "wamid.HBgLMTYzMTU1NTExODEVAgARGBJFUlJPUjAwMTIzNDU2Nzg5AA=="
    assert message.timestamp == 1712597100.0
    assert batch.skipped == ["entry 0, change 0: Meta reports errors: 131000"]


def check_template_status_update(batch: WebhookBatch) -> None:
    assert batch.messages == []
    assert batch.statuses == []
    assert batch.skipped == [
        "entry 0, change 0: field 'message_template_status_update' is not 'messages'"
    ]


# --- usernames and business-scoped user ids (BSUID) ----------------------------------------

BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"


def check_bsuid_text_with_phone(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.identifier == "16505551234"  # the phone number, as before usernames
    assert (message.user_id, message.parent_user_id) == (BSUID, None)
    assert (message.username, message.profile_name) == ("@realsheenanelson", "Sheena Nelson")
    assert message.text == "Does it come in another color?"


def check_bsuid_text_username_only(batch: WebhookBatch) -> None:
    # The number is withheld: the BSUID is who wrote, and the message is answered.
    message = only_message(batch)
    assert message.identifier == BSUID
    assert message.user_id == BSUID
    assert message.username == "@realsheenanelson"
    assert message.data["profile_name"] == "Sheena Nelson"
    assert message.text == "And in blue?"


def check_bsuid_parent_user_id(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert (message.identifier, message.parent_user_id) == (BSUID, PARENT)
    assert (message.kind, message.payload) == ("interactive", "blue")


def check_bsuid_status_read_no_recipient_id(batch: WebhookBatch) -> None:
    result = only_status(batch)
    assert (result.recipient, result.recipient_user_id) == (BSUID, BSUID)
    assert result.status == "read"
    assert result.callback_data == f"flowhq:{BSUID}:7.0"


def check_bsuid_text_no_username(batch: WebhookBatch) -> None:
    # The common case since April 2026: the number and the BSUID, no username.
    message = only_message(batch)
    assert (message.identifier, message.user_id) == (USER, "US.17730061234567890123")
    assert (message.username, message.profile_name) == (None, "Kerry Fisher")
    assert message.text == "A table for two tonight?"


def check_bsuid_status_delivered_to_phone(batch: WebhookBatch) -> None:
    result = only_status(batch)
    assert (result.recipient, result.recipient_user_id) == ("16505551234", BSUID)
    assert result.recipient_parent_user_id == PARENT
    assert (result.recipient_username, result.recipient_profile_name) == (
        "@realsheenanelson",
        "Sheena Nelson",
    )
    assert (result.status, result.pricing_category) == ("delivered", "service")


def check_bsuid_status_sent_no_username(batch: WebhookBatch) -> None:
    result = only_status(batch)
    assert (result.recipient, result.recipient_user_id) == ("16505551234", BSUID)
    assert (result.recipient_username, result.recipient_profile_name) == (None, "Sheena Nelson")
    assert result.status == "sent"


def check_bsuid_status_failed_no_contacts(batch: WebhookBatch) -> None:
    result = only_status(batch)
    assert result.recipient == BSUID
    assert result.recipient_parent_user_id == PARENT
    assert [e.code for e in result.errors] == [131047]


def check_system_user_changed_user_id(batch: WebhookBatch) -> None:
    # No `from`, no `from_user_id`: the user is named by the BSUID they had.
    message = only_message(batch)
    assert (message.kind, message.identifier, message.user_id) == ("system", BSUID, BSUID)
    assert message.parent_user_id == PARENT
    assert message.data["system"]["type"] == "user_changed_user_id"
    assert message.data["system"]["user_id"] == "US.10293847561029384756"
    assert message.answer is None


# --- edits, deletions, call permission answers: not flow input --------------------------

ORIGINAL = "wamid.HBgLMTYzMTU1NTExODEVAgASGBQ0T1JJRzAwMTIzNDU2Nzg5AA=="


def check_edit(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "edit"
    assert message.data["original_message_id"] == ORIGINAL
    assert message.data["edit"]["message"]["text"]["body"] == "2 pizzas, not 3"
    assert message.answer is None  # never taken as an answer


def check_edit_image_caption(batch: WebhookBatch) -> None:
    # Meta's own example: a caption edited (Coexistence numbers only).
    message = only_message(batch)
    assert message.kind == "edit"
    assert message.data["original_message_id"] == (
        "wamid.HBgLMTYzMTU1NTExODEVAgASGBQ0SU1BR0UwMDEyMzQ1Njc4OQA="
    )
    assert message.data["edit"]["message"]["image"]["caption"] == "The receipt, with the tip"
    assert (message.text, message.media, message.answer) == (None, None, None)


def check_revoke(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert (message.kind, message.data["original_message_id"]) == ("revoke", ORIGINAL)
    assert message.answer is None


def check_interactive_call_permission_reply(batch: WebhookBatch) -> None:
    message = only_message(batch)
    assert message.kind == "call_permission"
    assert message.data["call_permission"]["response"] == "accept"
    assert message.reply_to == "wamid.HBgLMTYzMTU1NTExODEVAgARGBJDQUxMUEVSTTAwMTIzNDU2AA=="


CORPUS_CHECKS: dict[str, Callable[[WebhookBatch], None]] = {
    "audio_voice": check_audio_voice,
    "batch_two_entries": check_batch_two_entries,
    "bsuid_parent_user_id": check_bsuid_parent_user_id,
    "bsuid_status_delivered_to_phone": check_bsuid_status_delivered_to_phone,
    "bsuid_status_failed_no_contacts": check_bsuid_status_failed_no_contacts,
    "bsuid_status_read_no_recipient_id": check_bsuid_status_read_no_recipient_id,
    "bsuid_status_sent_no_username": check_bsuid_status_sent_no_username,
    "bsuid_text_no_username": check_bsuid_text_no_username,
    "bsuid_text_username_only": check_bsuid_text_username_only,
    "bsuid_text_with_phone": check_bsuid_text_with_phone,
    "button_quick_reply": check_button_quick_reply,
    "contacts": check_contacts,
    "document": check_document,
    "edit": check_edit,
    "edit_image_caption": check_edit_image_caption,
    "image": check_image,
    "interactive_call_permission_reply": check_interactive_call_permission_reply,
    "interactive_button_reply": check_interactive_button_reply,
    "interactive_list_reply": check_interactive_list_reply,
    "interactive_nfm_reply": check_interactive_nfm_reply,
    "group_text": check_group_text,
    "interactive_with_change_errors": check_interactive_with_change_errors,
    "location": check_location,
    "order": check_order,
    "reaction": check_reaction,
    "referral": check_referral,
    "revoke": check_revoke,
    "status_delivered": _check_status("delivered", 1712596602.0),
    "status_failed": check_status_failed,
    "status_read": _check_status("read", 1712596650.0),
    "status_sent": _check_status("sent", 1712596600.0),
    "sticker": check_sticker,
    "system_user_changed_number": check_system_user_changed_number,
    "system_user_changed_user_id": check_system_user_changed_user_id,
    "template_status_update": check_template_status_update,
    "text": check_text,
    "text_reply": check_text_reply,
    "unsupported": check_unsupported,
    "unsupported_edit": check_unsupported_edit,
    "video": check_video,
}
CORPUS_NAMES = sorted(path.stem for path in CORPUS.glob("*.json"))


def test_every_corpus_file_has_its_assertions() -> None:
    assert sorted(CORPUS_CHECKS) == CORPUS_NAMES


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_payload(name: str) -> None:
    CORPUS_CHECKS[name](parse_webhook(load(name)))


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_parsed_mapping_gives_the_same_batch(name: str) -> None:
    assert parse_webhook(corpus_payload(name)) == parse_webhook(load(name))


# --- message details ----------------------------------------------------------------------


def parse_one(message: dict[str, Any], **value: Any) -> InboundMessage:
    batch = parse_webhook(envelope({"messages": [message], **value}))
    assert batch.skipped == []
    (result,) = batch.messages
    return result


def test_untagged_button_id_has_no_tag() -> None:
    message = {
        **text("w1"),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "yes~NOT A TAG"}},
    }
    result = parse_one(message)
    assert (result.payload, result.tag, result.title) == ("yes~NOT A TAG", None, None)


def test_reaction_taken_back_has_no_emoji() -> None:
    message = {**text("w1"), "type": "reaction", "reaction": {"message_id": "wamid.X"}}
    assert parse_one(message).data["reaction"] == {"message_id": "wamid.X", "emoji": None}


def test_voice_and_animated_default_to_false() -> None:
    audio = parse_one({**text("w1"), "type": "audio", "audio": {"id": "m1"}})
    sticker = parse_one({**text("w2"), "type": "sticker", "sticker": {"id": "m2"}})
    assert audio.data["voice"] is False
    assert sticker.data["animated"] is False


def test_unknown_type_is_passed_on_as_unsupported() -> None:
    result = parse_one({**text("w1"), "type": "hologram", "hologram": {"x": 1}})
    assert result.kind == "unsupported"
    assert result.data["type"] == "hologram"
    assert "problem" not in result.data
    assert result.timestamp == 1712595443.0


def test_unknown_interactive_reply_is_passed_on_as_unsupported() -> None:
    message = {**text("w1"), "type": "interactive", "interactive": {"type": "x", "x": {}}}
    result = parse_one(message)
    assert result.kind == "unsupported"
    assert (result.data["type"], result.data["interactive_type"]) == ("interactive", "x")


def test_numeric_timestamp_is_accepted() -> None:
    assert parse_one({**text("w1"), "timestamp": 1712595443.5}).timestamp == 1712595443.5
    assert parse_one({**text("w1"), "timestamp": None}).timestamp is None


def test_profile_name_only_for_the_matching_sender() -> None:
    contacts = [
        {"profile": {"name": "Someone Else"}, "wa_id": "999"},
        "not a contact",
        {"profile": "no name", "wa_id": USER},
    ]
    assert "profile_name" not in parse_one(text("w1"), contacts=contacts).data
    assert "profile_name" not in parse_one(text("w1"), contacts="not a list").data


def test_missing_metadata_leaves_the_numbers_empty() -> None:
    result = parse_one(text("w1"))
    assert result.data["phone_number_id"] is None
    assert result.data["display_phone_number"] is None


def test_malformed_metadata_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    result = parse_one(text("w1"), metadata={"phone_number_id": 42})
    assert result.text == "hi"
    assert result.data["phone_number_id"] is None
    assert "metadata ignored: 'phone_number_id' is a number, not a string" in caplog.text


def test_all_messages_of_all_entries_and_changes_in_order() -> None:
    payload = envelope({"messages": [text("a"), text("b")]}, {"messages": [text("c")]})
    payload["entry"].append(envelope({"messages": [text("d")]})["entry"][0])
    assert [m.message_id for m in parse_webhook(payload).messages] == ["a", "b", "c", "d"]


def test_status_passes_unknown_states_through() -> None:
    batch = parse_webhook(envelope({"statuses": [status("w1", "played"), status("w2", "new")]}))
    assert [s.status for s in batch.statuses] == ["played", "new"]
    assert batch.statuses[0].errors == ()
    assert batch.statuses[0].phone_number_id is None


def test_status_error_without_details() -> None:
    raw = {**status("w1", "failed"), "errors": [{"code": 131026}]}
    (result,) = parse_webhook(envelope({"statuses": [raw]})).statuses
    assert result.errors == (StatusError(131026),)


# --- odd items never cost the others ------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            {"id": "x", "type": "text", "text": {"body": "no sender"}},
            "no 'from' and no 'from_user_id'",
        ),
        ({"from": USER, "type": "text", "text": {"body": "no id"}}, "no 'id'"),
        ({**text("x"), "from": ""}, "'from' is '', not a non-empty string"),
        ({**text("x"), "from": 4915112345}, "'from' is a number, not a non-empty string"),
        ({**text("x"), "id": ["wamid"]}, "'id' is a list, not a non-empty string"),
        ("a string", "the message is a string, not an object"),
        (None, "the message is null, not an object"),
    ],
)
def test_message_without_sender_or_id_is_skipped(
    bad: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    batch = parse_webhook(envelope({"messages": [text("a"), bad, text("b")]}))
    assert [m.message_id for m in batch.messages] == ["a", "b"]
    assert batch.skipped == [f"entry 0, change 0, message 1: {reason}"]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"skipped entry 0, change 0, message 1: {reason}"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"type": "text", "text": {}}, "'text' message: no 'body'"),
        ({"type": "text", "text": "hi"}, "'text' message: 'text' is a string, not an object"),
        ({"type": "text", "text": {"body": 7}}, "'text' message: 'body' is a number, not a"),
        ({"type": "image", "image": {"caption": "x"}}, "'image' message: no 'id'"),
        ({"type": "image", "image": {"id": "m", "caption": 1}}, "'caption' is a number"),
        ({"type": "audio", "audio": {"id": "m", "voice": "yes"}}, "'voice' is a string"),
        ({"type": "location", "location": {"latitude": "52.5", "longitude": 13.4}}, "'latitude'"),
        ({"type": "location", "location": {"latitude": True, "longitude": 13.4}}, "'latitude'"),
        ({"type": "location", "location": {"latitude": 1e999, "longitude": 1}}, "not a finite"),
        ({"type": "contacts", "contacts": {"name": "x"}}, "'contacts' is an object, not a list"),
        ({"type": "contacts"}, "'contacts' message: no 'contacts'"),
        ({"type": "reaction", "reaction": {"emoji": "x"}}, "no 'message_id'"),
        ({"type": "order", "order": []}, "'order' message: 'order' is a list, not an object"),
        ({"type": "system"}, "'system' message: no 'system'"),
        ({"type": "unsupported", "unsupported": "edit"}, "'unsupported' is a string, not an"),
        ({"type": "interactive", "interactive": {"type": 3}}, "'type' is a number"),
        ({"type": "interactive", "interactive": {"type": "button_reply"}}, "is null"),
        ({"type": "button", "button": {"text": "Stop"}}, "'button' message: no 'payload'"),
        ({"type": None}, "no 'type'"),
        ({"type": ["text"]}, "'type' is not a string"),
        ({"timestamp": "yesterday"}, "'timestamp' is 'yesterday', not epoch seconds"),
        ({"timestamp": "nan"}, "'timestamp' is 'nan', not epoch seconds"),
        ({"timestamp": 10**400}, "'timestamp' is a number, not epoch seconds"),
        ({"timestamp": True}, "'timestamp' is a boolean, not epoch seconds"),
        ({"context": "wamid.X"}, "'context' is a string, not an object"),
        ({"context": {"id": 5}}, "'id' is a number, not a string"),
        ({"referral": ["ad"]}, "'referral' is a list, not an object"),
        ({"errors": "oops"}, "'errors' is a string, not a list"),
    ],
)
def test_malformed_content_is_passed_on_as_unsupported(
    bad: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    broken = {**text("x"), **bad}
    if "type" in bad and bad["type"] != "text":
        del broken["text"]
    batch = parse_webhook(envelope({"messages": [text("a"), broken, text("b")]}))
    assert batch.skipped == []
    assert [m.message_id for m in batch.messages] == ["a", "x", "b"]
    result = batch.messages[1]
    assert result.kind == "unsupported"
    assert result.identifier == USER
    assert problem in result.data["problem"]
    assert result.data["type"] == (broken["type"] if isinstance(broken["type"], str) else None)
    assert result.text is None
    # When it was sent survives a malformed content (unless the timestamp is the problem).
    assert result.timestamp == (None if "timestamp" in problem else float(broken["timestamp"]))
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "message 1: passed on as unsupported" in record.getMessage()


def test_unsupported_without_its_type_is_still_unsupported() -> None:
    result = parse_one({**text("x"), "type": "unsupported", "text": None})
    assert (result.kind, result.data["type"]) == ("unsupported", "unsupported")
    assert "unsupported" not in result.data
    assert "problem" not in result.data


def test_a_system_notice_naming_nobody_readable_is_skipped() -> None:
    notice = {
        "id": "w1",
        "timestamp": "1712595443",
        "type": "system",
        "system": {"previous_user_id": 12345, "user_id": "US.2", "type": "user_changed_user_id"},
    }
    batch = parse_webhook(envelope({"messages": [notice]}))
    assert batch.messages == []
    assert batch.skipped == ["entry 0, change 0, message 0: no 'from' and no 'from_user_id'"]


def test_a_status_takes_names_only_from_its_own_recipient() -> None:
    contacts = [{"profile": {"name": "Someone Else", "username": "@else"}, "wa_id": "19995550000"}]
    batch = parse_webhook(envelope({"statuses": [status("w1")], "contacts": contacts}))
    result = only_status(batch)
    assert (result.recipient_username, result.recipient_profile_name) == (None, None)


def test_unsupported_fallback_keeps_no_half_read_content() -> None:
    broken = {**text("x"), "referral": {"source_type": "ad"}, "timestamp": "later"}
    result = parse_one(broken)
    assert result.kind == "unsupported"
    assert "referral" not in result.data
    assert result.text is None
    assert result.data["problem"] == "'timestamp' is 'later', not epoch seconds"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"status": "sent", "recipient_id": USER}, "no 'id'"),
        ({"id": "w", "recipient_id": USER}, "no 'status'"),
        ({"id": "w", "status": "sent"}, "no 'recipient_id' and no 'recipient_user_id'"),
        ({**status("w"), "timestamp": "soon"}, "'timestamp' is 'soon', not epoch seconds"),
        ({**status("w"), "errors": {"code": 1}}, "'errors' is an object, not a list"),
        ({**status("w"), "errors": ["boom"]}, "an error is a string, not an object"),
        (
            {**status("w"), "errors": [{"code": "131047"}]},
            "error 'code' is a string, not an integer",
        ),
        ({**status("w"), "errors": [{"code": False}]}, "error 'code' is a boolean, not an integer"),
        ({**status("w"), "errors": [{"error_data": []}]}, "'error_data' is a list, not an object"),
        ({**status("w"), "conversation": "c1"}, "'conversation' is a string, not an object"),
        ({**status("w"), "pricing": {"category": 1}}, "'category' is a number, not a string"),
        (7, "the status is a number, not an object"),
    ],
)
def test_malformed_status_is_skipped(
    bad: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    batch = parse_webhook(envelope({"statuses": [status("a"), bad, status("b")]}))
    assert [s.message_id for s in batch.statuses] == ["a", "b"]
    assert batch.skipped == [f"entry 0, change 0, status 1: {reason}"]
    assert caplog.records[0].levelno == logging.WARNING


def test_messages_or_statuses_not_a_list_are_skipped() -> None:
    batch = parse_webhook(
        envelope({"messages": {"0": text("a")}, "statuses": [status("s")]}, {"statuses": "x"})
    )
    assert batch.messages == []
    assert [s.message_id for s in batch.statuses] == ["s"]
    assert batch.skipped == [
        "entry 0, change 0: 'messages' is an object, not a list",
        "entry 0, change 1: 'statuses' is a string, not a list",
    ]


def test_other_fields_are_skipped_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    payload = envelope({"messages": [text("a")]})
    payload["entry"][0]["changes"][:0] = [
        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}},
        {"field": "calls", "value": ["whatever shape"]},
        {"value": {}},
    ]
    batch = parse_webhook(payload)
    assert [m.message_id for m in batch.messages] == ["a"]
    assert batch.skipped == [
        "entry 0, change 0: field 'account_update' is not 'messages'",
        "entry 0, change 1: field 'calls' is not 'messages'",
        "entry 0, change 2: field null is not 'messages'",
    ]
    assert {record.levelno for record in caplog.records} == {logging.DEBUG}


def test_meta_errors_on_a_change_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    errors = [{"code": 131000}, {"code": 10**50}, "odd"]
    batch = parse_webhook(envelope({"messages": [text("a")], "errors": errors}, {"errors": 1}))
    assert [m.message_id for m in batch.messages] == ["a"]
    assert batch.skipped == [
        "entry 0, change 0: Meta reports errors: 131000, ?, ?",
        "entry 0, change 1: Meta reports errors: a number",
    ]
    assert len(caplog.records) == 2


def test_long_strings_are_clipped_in_skipped_lines() -> None:
    payload = envelope({}, field="x" * 500)
    (line,) = parse_webhook(payload).skipped
    assert line == f"entry 0, change 0: field '{'x' * 40}...' is not 'messages'"


# --- broken envelopes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"{'object': 1}", "body is not JSON: Expecting property name enclosed in double quotes"),
        (b'{"object": "whatsapp_business_account"', "body is not JSON: Expecting ',' delimiter"),
        (b'{"x": NaN}', "body is not JSON: NaN is not a JSON value"),
        (b'{"x": -Infinity}', "body is not JSON: -Infinity is not a JSON value"),
        (b"\xff\xfe{}", "body is not UTF-8: invalid start byte at byte 0"),
        (b'{"x": "\xc3"}', "body is not UTF-8: invalid continuation byte at byte 7"),
        (b"\xef\xbb\xbf{}", "body is not JSON: Unexpected UTF-8 BOM"),
        (b"[" * 100_000, "body is not JSON this parser can read: nested too deep"),
        (b"[]", "body is a list, not an object"),
        (b'"whatsapp_business_account"', "body is a string, not an object"),
        (b"null", "body is null, not an object"),
        ("{}", "body is a string, not bytes or a mapping"),
        (None, "body is null, not bytes or a mapping"),
        ([], "body is a list, not bytes or a mapping"),
        ({}, "'object' is null, not 'whatsapp_business_account'"),
        ({"object": "page", "entry": []}, "'object' is 'page', not 'whatsapp_business_account'"),
        ({"object": ["x"], "entry": []}, "'object' is a list, not 'whatsapp_business_account'"),
        ({"object": "whatsapp_business_account"}, "'entry' is null, not a list"),
        ({"object": "whatsapp_business_account", "entry": {}}, "'entry' is an object, not a list"),
        ({"object": "whatsapp_business_account", "entry": [3]}, "entry 0 is a number, not an"),
        ({"object": "whatsapp_business_account", "entry": [{}]}, "entry 0: 'changes' is null"),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]},
            "entry 0: 'changes' is a string, not a list",
        ),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": []}, {"changes": [1]}]},
            "entry 1, change 0 is a number, not an object",
        ),
        (
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"field": "messages", "value": [text("a")]}]}],
            },
            "entry 0, change 0: 'value' is a list, not an object",
        ),
        (
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"field": "messages"}]}],
            },
            "entry 0, change 0: 'value' is null, not an object",
        ),
    ],
)
def test_broken_envelope_raises_channel_error(body: Any, message: str) -> None:
    with pytest.raises(ChannelError) as caught:
        parse_webhook(body)
    assert str(caught.value).startswith(message)


def test_non_json_types_in_a_parsed_mapping_are_named() -> None:
    payload = {"object": "whatsapp_business_account", "entry": {"a", "b"}}
    with pytest.raises(ChannelError, match=r"^'entry' is a set, not a list$"):
        parse_webhook(payload)


def test_a_broken_change_refuses_the_whole_delivery() -> None:
    # Half a delivery would be acknowledged to Meta as if whole; it must be refused whole.
    payload = envelope({"messages": [text("a")]})
    payload["entry"].append({"id": "2", "changes": [{"field": "messages", "value": "?"}]})
    with pytest.raises(ChannelError, match=r"^entry 1, change 0: 'value' is a string"):
        parse_webhook(payload)


def test_bytes_like_bodies_are_read() -> None:
    body = load("text")
    assert parse_webhook(bytearray(body)) == parse_webhook(memoryview(body)) == parse_webhook(body)


# --- the bound on updates -----------------------------------------------------------------


def test_max_updates_is_one_thousand() -> None:
    assert MAX_UPDATES == 1000


def test_one_thousand_updates_are_fine() -> None:
    payload = envelope(
        {"messages": [text(f"m{i}") for i in range(600)]},
        {"statuses": [status(f"s{i}") for i in range(399)]},
    )
    payload["entry"][0]["changes"].append({"field": "account_update", "value": {}})
    batch = parse_webhook(json.dumps(payload).encode())
    assert len(batch.messages) == 600
    assert len(batch.statuses) == 399
    assert batch.messages[-1].message_id == "m599"


def test_one_thousand_and_one_updates_are_refused() -> None:
    payload = envelope(
        {"messages": [text(f"m{i}") for i in range(600)]},
        {"statuses": [status(f"s{i}") for i in range(400)]},
    )
    payload["entry"][0]["changes"].append({"field": "account_update", "value": {}})
    with pytest.raises(ChannelError, match=r"^delivery carries 1001 updates, more than 1000$"):
        parse_webhook(json.dumps(payload).encode())


def test_malformed_items_count_as_updates() -> None:
    payload = envelope({"messages": [None] * 1001})
    with pytest.raises(ChannelError, match="1001 updates"):
        parse_webhook(payload)


def test_empty_changes_count_one_each() -> None:
    payload = envelope(*([{}] * 1001))
    with pytest.raises(ChannelError, match="1001 updates"):
        parse_webhook(payload)
    assert parse_webhook(envelope(*([{}] * 1000))) == WebhookBatch()


def test_max_updates_can_be_lowered() -> None:
    with pytest.raises(ChannelError, match="2 updates, more than 1"):
        parse_webhook(envelope({"messages": [text("a"), text("b")]}), max_updates=1)


# --- fuzzing: parse_webhook raises ChannelError or nothing --------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=10), children, max_size=5),
    ),
    max_leaves=40,
)
# Keys the parser looks up, so random objects hit its branches rather than miss every key.
PARSER_KEYS = st.sampled_from(
    [
        "object",
        "entry",
        "changes",
        "field",
        "value",
        "messages",
        "statuses",
        "from",
        "id",
        "type",
        "text",
        "body",
        "interactive",
        "timestamp",
        "errors",
        "code",
        "contacts",
        "from_user_id",
        "from_parent_user_id",
        "user_id",
        "parent_user_id",
        "profile",
        "username",
        "recipient_id",
        "recipient_user_id",
        "biz_opaque_callback_data",
    ]
)
KEYED_VALUES = st.recursive(
    st.one_of(JSON_LEAVES, st.sampled_from(["whatsapp_business_account", "messages", "text"])),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(PARSER_KEYS, st.text(max_size=5)), children, max_size=6),
    ),
    max_leaves=60,
)


def parses_or_channel_error(body: Any) -> WebhookBatch | None:
    """Parse, allowing only ChannelError; check the batch's own types when it parses."""
    try:
        batch = parse_webhook(body)
    except ChannelError:
        return None
    assert all(isinstance(message, InboundMessage) for message in batch.messages)
    assert all(isinstance(item, Status) for item in batch.statuses)
    assert all(isinstance(line, str) for line in batch.skipped)
    return batch


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON_VALUES, KEYED_VALUES))
def test_fuzz_arbitrary_json_values(value: Any) -> None:
    parses_or_channel_error(value)
    parses_or_channel_error(json.dumps(value).encode())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(KEYED_VALUES)
def test_fuzz_arbitrary_values_in_a_valid_envelope(value: Any) -> None:
    parses_or_channel_error(envelope(value))
    parses_or_channel_error(envelope({"messages": [value], "statuses": [value]}))
    parses_or_channel_error(envelope({"messages": [{**text("w"), "type": "text", "text": value}]}))


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(body: bytes) -> None:
    parses_or_channel_error(body)
    parses_or_channel_error(load("text")[: len(body)] + body)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (keys and list indexes)."""
    found: list[tuple[Any, ...]] = []
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        found.append((*prefix, key))
        if isinstance(child, dict | list):
            found.extend(paths(child, (*prefix, key)))
    return found


def swap_type(value: Any) -> Any:
    """A value of another JSON type that a confused sender might put in its place."""
    swaps: dict[type, Any] = {
        str: 12345,
        int: str(value),
        float: str(value),
        bool: "true",
        dict: [value],
        list: {"0": value},
        type(None): {},
    }
    return swaps.get(type(value))


MUTATIONS = st.sampled_from(["drop", "swap", "string", "random", "null", "empty"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CORPUS_NAMES), data=st.data())
def test_fuzz_mutated_corpus(name: str, data: st.DataObject) -> None:
    payload: Any = copy.deepcopy(corpus_payload(name))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        where = data.draw(st.sampled_from(paths(payload)), label="path")
        parent = payload
        for key in where[:-1]:
            parent = parent[key]
        key, old = where[-1], parent[where[-1]]
        mutation = data.draw(MUTATIONS, label="mutation")
        if mutation == "drop":
            del parent[key]
        elif mutation == "swap":
            parent[key] = swap_type(old)
        elif mutation == "string":
            parent[key] = data.draw(st.text(max_size=30), label="string")
        elif mutation == "random":
            parent[key] = data.draw(JSON_VALUES, label="value")
        elif mutation == "null":
            parent[key] = None
        else:
            parent[key] = type(old)() if isinstance(old, dict | list | str) else 0
        if not paths(payload):
            break
    parses_or_channel_error(payload)
    parses_or_channel_error(json.dumps(payload).encode())


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_signed_bytes_round_trip(name: str) -> None:
    body = load(name)
    assert verify_signature(body, sign(body, SECRET), SECRET)
    assert parse_webhook(body).skipped == parse_webhook(corpus_payload(name)).skipped

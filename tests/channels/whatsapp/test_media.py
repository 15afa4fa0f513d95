"""Media under uvicorn against the fake Graph API: sent by link and by uploaded id,
received, saved by a Prompt and downloaded with a size limit and a hash check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flowhq import (
    Action,
    ChannelError,
    ConversationKey,
    Flow,
    Media,
    Message,
    OutboundMessage,
    Prompt,
    StateManager,
)
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.testing.whatsapp import FakeGraphApi, media, text
from tests.channels.whatsapp.bot import say, serve_bot
from tests.channels.whatsapp.fixtures import FAKE_TOKEN, PHONE_NUMBER_ID
from tests.support import wait_for

MENU = "https://example.com/menu.jpg"


async def kind(state_manager: StateManager) -> str:
    """Save the type of the media the user sent (the saved reference says it)."""
    state_manager.save_value("receipt_kind", state_manager.get_value("receipt")["type"])
    return "done"


class Receipt(Flow):
    name = "receipt"
    ask = Prompt("Want the menu?", initial=True)
    card = Message("Today's menu", media=Media.image(MENU))
    receipt = Prompt("Send a photo of your receipt.", accept=("image", "document"))
    note = Action(kind, saves=("receipt_kind",))
    thanks = Message("Got it: {receipt_kind}.", final=True)
    valid = ask.to(card) | receipt.to(note)
    done = card.to(receipt) | note.to(thanks)


async def test_an_image_is_sent_and_one_received_is_downloaded(
    redis_url: str, fake_graph: tuple[FakeGraphApi, str]
) -> None:
    fake, graph = fake_graph
    user = "15551243001"
    photo = b"\xff\xd8\xff\xe0 a receipt " * 500
    with serve_bot([Receipt], redis_url, graph) as (url, _):
        await say(url, text(user, "hi"))
        await wait_for(lambda: fake.texts(user) == ["Want the menu?"])
        await say(url, text(user, "yes"))
        await wait_for(lambda: len(fake.messages(user)) == 3)
        card = fake.messages(user)[1].payload
        assert card["type"] == "image"
        assert card["image"] == {"link": MENU, "caption": "Today's menu"}
        assert fake.messages(user)[1].text == "Today's menu"  # what a console shows
        media_id, sha256 = fake.add_media(photo, "image/jpeg")
        await say(url, media(user, "image", media_id, mime_type="image/jpeg", sha256=sha256))
        await wait_for(lambda: len(fake.messages(user)) == 4)
        assert fake.messages(user)[3].text == "Got it: image."
    messenger = WhatsAppMessenger(
        phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph
    )
    async with messenger:
        reference = {"type": "image", "id": media_id, "mime_type": "image/jpeg", "sha256": sha256}
        assert await messenger.download(reference) == photo
        with pytest.raises(ChannelError, match="over the limit"):
            await messenger.download(reference, max_bytes=100)
        with pytest.raises(ChannelError, match="sha256"):
            await messenger.download({**reference, "sha256": hashlib.sha256(b"x").hexdigest()})


async def test_an_uploaded_document_is_sent_by_its_id(
    fake_graph: tuple[FakeGraphApi, str], tmp_path: Path
) -> None:
    fake, graph = fake_graph
    user = "15551243002"
    document = tmp_path / "booking.pdf"
    document.write_bytes(b"%PDF-1.4 booking")
    messenger = WhatsAppMessenger(
        phone_number_id=PHONE_NUMBER_ID, access_token=FAKE_TOKEN, base_url=graph
    )
    async with messenger:
        uploaded = await messenger.upload(document, "application/pdf")
        assert fake.media[uploaded] == (b"%PDF-1.4 booking", "application/pdf")
        reply = OutboundMessage("Your booking", media=Media.document(uploaded, filename="b.pdf"))
        await messenger.send(ConversationKey("whatsapp", user), [reply])
        long_caption = OutboundMessage("x" * 2000, media=Media.audio(uploaded))
        await messenger.send(ConversationKey("whatsapp", user), [long_caption])
    first, text_before, audio = (d.payload for d in fake.messages(user))
    assert first["document"] == {"id": uploaded, "caption": "Your booking", "filename": "b.pdf"}
    assert text_before["type"] == "text"  # audio takes no caption: the text goes first
    assert audio["audio"] == {"id": uploaded}
    assert fake.messages(user)[-1].text == f"audio:{uploaded}"

"""The dev console switches a simulated user's language; the flow's texts follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.clinic import Booking
from flowhq.dev.app import FlowSource, console_app
from flowhq.i18n import Translations
from tests.dev.test_dev_console import entries
from tests.support import served

LOCALES = Path(__file__).parents[1] / "i18n" / "locales"


@pytest.fixture
def clinic() -> Iterator[httpx.Client]:
    app = console_app(
        FlowSource.of([Booking]), [Booking], reload_every=0, translations=Translations.load(LOCALES)
    )
    with served(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def test_a_simulated_user_switches_to_spanish(clinic: httpx.Client) -> None:
    user = clinic.get("/api/info").json()["users"][0]
    assert clinic.post(f"/api/chat/{user}/locale", json={"locale": "es"}).status_code == 200
    clinic.post(f"/api/chat/{user}/text", json={"text": "hola"})
    chat = entries(clinic, user, 3)
    assert [(e["direction"], e["text"]) for e in chat[:3]] == [
        ("system", "Language: es."),
        ("in", "hola"),
        ("out", "¿Qué día te viene bien? (de lunes a viernes)"),
    ]


def test_an_unknown_locale_is_refused(clinic: httpx.Client) -> None:
    user = clinic.get("/api/info").json()["users"][0]
    response = clinic.post(f"/api/chat/{user}/locale", json={"locale": "xx_YY_zz"})
    assert response.status_code == 404  # the console's answer to invalid input
    assert "unknown locale" in response.json()["error"]

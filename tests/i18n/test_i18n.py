"""Languages: catalogs, the conversation's locale, flowhq's own texts, check --locales."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from examples.clinic import Booking, VisitReminder
from flowhq import Headquarters, InboundMessage, MemoryStore
from flowhq.cli import main
from flowhq.i18n import Translations, builtin_translations
from flowhq.i18n.checks import check_translations
from flowhq.statecharts.templates import Template
from flowhq.testing import Conversation, ManualClock

LOCALES = Path(__file__).parent / "locales"
SHIPPED = ("es", "pt_BR")


def spanish(**options: object) -> Conversation:
    hq = Headquarters(
        flows=[Booking, VisitReminder],
        store=MemoryStore(),
        clock=ManualClock(),
        translations=Translations.load(LOCALES),
        **options,  # type: ignore[arg-type]
    )
    return Conversation(hq)


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_built_in_text_ships_translated(locale: str) -> None:
    source = builtin_translations().catalog("en")
    catalog = builtin_translations().catalog(locale)
    assert len(source) >= 30
    missing = sorted(set(source) - set(catalog))
    assert missing == []
    for msgid, translated in catalog.items():
        assert set(Template(translated).fields) == set(Template(msgid).fields), msgid
    assert check_translations([Booking], Translations({locale: dict(catalog)})) == []


async def test_a_spanish_conversation_through_the_clinic_booking() -> None:
    async with spanish(locale_of=lambda key: "es") as c:
        assert await c.say("hola") == ["¿Qué día te viene bien? (de lunes a viernes)"]
        assert await c.say(" ") == [
            "He recibido un mensaje vacío. Por favor, escribe tu respuesta."
        ]
        assert await c.say("x" * 5000) == [
            "Ese mensaje es demasiado largo (como máximo 4096 caracteres). "
            "Por favor, envía uno más corto."
        ]
        assert await c.advance(timedelta(hours=2)) == ["¿Sigues ahí? ¿Qué día te viene bien?"]
        assert await c.say("domingo") == [
            "Por favor, responde una de estas opciones: lunes, martes, miércoles, jueves, "
            "viernes.\n¿Qué día te viene bien? (de lunes a viernes)"
        ]
        assert await c.say("Martes") == ["Consultando la agenda del martes…"]
        assert c.state.get_value("day") == "Tuesday"  # data keeps the declared value
        assert await c.say("¿hola?") == ["Un momento, por favor…"]
        assert await c.advance(timedelta(minutes=10)) == ["El martes tenemos:"]
        menu = c.last_reply
        assert menu is not None
        assert [title for _, title in menu.buttons] == ["9:30", "11:30", "16:00"]
        old_tag = menu.tag
        assert await c.say("mañana") == [
            "Por favor, elige una de las opciones.\nEl martes tenemos:"
        ]
        assert await c.say("11:30") == ["¿Reservo el martes a las 11:30?"]
        confirm = c.last_reply
        assert confirm is not None
        assert confirm.buttons == (("yes", "sí"), ("no", "no"))
        assert await c.say("quizás") == [
            "Por favor, responde sí o no.\n¿Reservo el martes a las 11:30?"
        ]
        stale = InboundMessage(c.key.channel, c.key.identifier, "tap-old", payload="09:30",
                               kind="interactive", tag=old_tag)  # fmt: skip
        assert await c.send(stale) == [
            "Ese botón pertenece a una pregunta anterior.",
            "¿Reservo el martes a las 11:30?",
        ]
        assert await c.say("Vale") == [
            "Reservado: martes a las 11:30. Te lo recordaremos el día antes."
        ]


async def test_initialize_saves_the_locale_and_a_flow_texts_fall_back_to_english() -> None:
    async with spanish() as c:
        await c.hq.initialize(c.key.channel, c.key.identifier, locale="es-ES")
        assert await c.say("hola") == ["¿Qué día te viene bien? (de lunes a viernes)"]
    async with spanish() as c:  # nothing says Spanish: the flow's own language
        assert await c.say("hi") == ["Which day suits you? (Monday to Friday)"]
    async with spanish(locale_of=lambda key: "de") as c:  # no German catalog: the source
        assert await c.say("hallo") == ["Which day suits you? (Monday to Friday)"]


async def test_a_confirm_takes_the_words_of_the_conversations_language() -> None:
    async with spanish(locale_of=lambda key: "pt_BR") as c:
        await c.say("oi")
        await c.say("Monday")
        await c.advance(timedelta(minutes=10))
        await c.say("1")
        confirm = c.last_reply
        assert confirm is not None
        assert confirm.buttons == (("yes", "sim"), ("no", "não"))
        assert await c.say("Não") == ["Qual dia é melhor para você? (de segunda a sexta)"]


def test_a_translation_missing_a_placeholder_or_too_long_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "examples.clinic:Booking", "--locales", str(LOCALES)]) == 1
    out = capsys.readouterr().out
    assert "pt_BR: Booking.confirm: 'Book {day} at {slot}?'" in out
    assert "drops {day}, invents {dia}" in out
    assert "'11:30 da manhã, confirmado' has 26 characters; a button allows 20" in out
    assert "es:" not in out  # the Spanish catalog is sound


def test_check_locales_passes_a_sound_catalog(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text((LOCALES / "es/LC_MESSAGES/messages.po").read_text())
    assert main(["check", "examples.clinic:Booking", "--locales", str(tmp_path)]) == 0
    assert "ok" in capsys.readouterr().out


def test_a_team_overrides_a_built_in_text() -> None:
    mine = Translations({"es": {"Please pick one of the options.": "Elige una opción, porfa."}})
    merged = mine | builtin_translations()
    assert merged.gettext("es", "Please pick one of the options.") == "Elige una opción, porfa."
    assert merged.gettext("es", "Choose") == "Elegir"  # the rest stays flowhq's
    bad = Translations({"es": {"Please answer {yes} or {no}.": "Responde {si} o {no}."}})
    assert check_translations([Booking], bad) == [
        "es: flowhq: 'Please answer {yes} or {no}.' -> 'Responde {si} o {no}.' "
        "drops {yes}, invents {si}"
    ]


def test_the_extractor_finds_the_flow_texts() -> None:
    from babel.messages.extract import extract_from_file

    found = {
        message
        for _, message, _, _ in extract_from_file(
            "flowhq.i18n.extract:extract", "examples/clinic.py"
        )
    }
    assert "Which day suits you? (Monday to Friday)" in found
    assert "Still there? Which day suits you?" in found  # a reminder
    assert "Book {day} at {slot}?" in found
    assert "GET" not in found


def test_the_extractor_is_registered_for_pybabel() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extractors = project["project"]["entry-points"]["babel.extractors"]
    assert extractors == {"flowhq": "flowhq.i18n.extract:extract"}


def test_the_compiled_catalogs_match_their_sources() -> None:
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).parents[2] / "src/flowhq/i18n/locales"
    for locale in ("en", *SHIPPED):
        folder = root / locale / "LC_MESSAGES"
        with (folder / "flowhq.po").open("rb") as po, (folder / "flowhq.mo").open("rb") as mo:
            source = {m.id: m.string for m in read_po(po) if m.id}
            compiled = {m.id: m.string for m in read_mo(mo) if m.id}
        assert compiled == source, f"{locale}: run pybabel compile -d {root} -D flowhq"


def test_every_text_flowhq_sends_is_in_its_catalog() -> None:
    from flowhq import Flow, validators
    from flowhq.components import choice, confirm, error_handler, prompt, wait
    from flowhq.runtime import intake

    sent = {
        choice.PICK_AGAIN, choice.MENU_LABEL, confirm.ANSWER_AGAIN, confirm.YES_WORDS_TEXT,
        confirm.NO_WORDS_TEXT, "yes", "no", prompt.ASK_FOR_KIND, " or ", *prompt._ASK_FOR.values(),
        wait.BUSY_TEXT, error_handler.DEFAULT_APOLOGY, Flow.restart_text, Flow.stale_button_text,
        intake.EMPTY_TEXT, intake.TOO_LONG, validators.WHOLE_AGAIN, validators.NUMBER_AGAIN,
        validators.NUMBER_AT_LEAST, validators.NUMBER_AT_MOST, validators.ONE_OF_AGAIN,
        validators.DATE_AGAIN, validators.DATE_FROM_TODAY, validators.DATE_PASSED,
        validators.DATE_FROM, validators.DATE_UNTIL, validators.TIME_AGAIN,
        "That doesn't look like an email address.",
        "Please send the number with its country code, like +15550001234.",
    }  # fmt: skip
    assert sent <= set(builtin_translations().catalog("en"))


async def test_an_unknown_or_failing_locale_falls_back_to_the_flows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(key: object) -> str:
        raise RuntimeError("CRM down")

    async with spanish(locale_of=broken) as c:
        assert await c.say("hi") == ["Which day suits you? (Monday to Friday)"]
    assert "locale_of failed" in caplog.text
    async with spanish(locale_of=lambda key: "tlh_XX") as c:  # no such locale in Babel
        assert await c.say("hi") == ["Which day suits you? (Monday to Friday)"]
        await c.say("Monday")
        assert await c.advance(timedelta(minutes=10)) == ["On Monday we have:"]


def test_chat_speaks_the_language_asked_for(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid "What\'s your name?"\nmsgstr "¿Cómo te llamas?"\n\n'
        'msgid "Thanks {first_name}! Your email?"\nmsgstr "¡Gracias, {first_name}! ¿Tu correo?"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "flowhq.cli", "chat", "examples.signup:Signup", "--locale", "es",
         "--locales", str(tmp_path)],
        input="Ana\nana@\n",
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "bot> ¿Cómo te llamas?",
        "you> Ana",
        "bot> ¡Gracias, Ana! ¿Tu correo?",
        "you> ana@",
        "bot> Eso no parece una dirección de correo electrónico.",
        "¡Gracias, Ana! ¿Tu correo?",
    ]


def test_a_translated_button_is_measured_as_whatsapp_counts_it() -> None:
    """Fourteen characters with seven emoji are 21 UTF-16 units: too long for a 20-unit
    button, though ``len()`` would let it through."""
    from flowhq.channels.whatsapp.lengths import utf16_length

    title = "🕚 11:30 🦷🦷🦷🦷🦷🦷"
    assert len(title) <= 20 < utf16_length(title)
    emoji = Translations({"es": {"11:30 am": title}})
    assert check_translations([Booking], emoji, limits={"button": 20}) == []
    found = check_translations(
        [Booking], emoji, limits={"button": 20}, measure=utf16_length, unit="UTF-16 units"
    )
    assert found == [
        f"es: Booking.slot: '11:30 am' -> {title!r} is {utf16_length(title)} UTF-16 units long; "
        "a button allows 20"
    ]

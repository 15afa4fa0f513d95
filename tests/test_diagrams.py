"""Diagrams from code: golden texts, completeness, determinism, SVG, highlighting, secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.dom.minidom
from collections import Counter
from pathlib import Path

import pytest

import flowhq.diagrams
import flowhq.statecharts.flow
from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    RedisStore,
)
from flowhq.cli import main
from flowhq.diagrams import GraphvizError, extract, render, to_dot, to_mermaid
from flowhq.diagrams.regenerate import stale
from flowhq.statecharts.model import transitions
from tests.flows import Age, Nested

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = [Signup, SupportMenu, OrderStatus]
UPDATE = os.environ.get("FLOWHQ_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("flow", EXAMPLES, ids=lambda f: f.name)
@pytest.mark.parametrize(("suffix", "render_text"), [("mmd", to_mermaid), ("dot", to_dot)])
def test_golden(flow: type[Flow], suffix: str, render_text: object) -> None:
    text = render_text(flow)  # type: ignore[operator]
    golden = GOLDEN / f"{flow.name}.{suffix}"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text(), "regenerate with FLOWHQ_UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize("flow", [*EXAMPLES, Age, Nested], ids=lambda f: f.name)
def test_every_transition_is_exactly_one_edge(flow: type[Flow]) -> None:
    expected = Counter((t.source.id, t.target.id if t.target else None) for t in transitions(flow))
    drawn = Counter((e.source, e.target) for e in extract(flow).edges if e.kind == "transition")
    assert drawn == expected
    dot = to_dot(flow)
    mermaid = to_mermaid(flow)
    for edge in extract(flow).edges:
        if edge.label:
            assert dot.count(f'label="{edge.label}"') >= 1
    assert mermaid.count(" --> ") >= sum(expected.values())


def test_labels_show_kinds_texts_guards_and_commands() -> None:
    mermaid = to_mermaid(SupportMenu)
    assert "Choice#58; How can we help? [billing#58; Billing" in mermaid
    assert "support --> help_text : help (typed#58; 'help')" in mermaid
    assert 'state "H" as resume' in mermaid
    assert "resume --> menu" in mermaid
    assert "ApiCall#58; GET /orders/#123;order_id#125;" in to_mermaid(OrderStatus)
    dot = to_dot(Age)
    assert 'label="valid [is_adult]"' in dot
    assert "peripheries=2" in dot


def test_output_is_byte_identical_across_processes() -> None:
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from flowhq.diagrams import to_dot, to_mermaid;"
        "from tests.flows import Nested;"
        "print(to_dot(Nested) + to_mermaid(Nested))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1
    assert "0x" not in runs.pop()


def test_unhandled_result_is_drawn_as_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flowhq.statecharts.flow, "find_problems", lambda flow: [])

    class Sloppy(Flow):  # a flow the checker would refuse
        ask = Prompt("Age?", max_attempts=2, initial=True)
        done_msg = Message("Thanks.", final=True)
        valid = ask.to(done_msg)

    edges = [e for e in extract(Sloppy).edges if e.kind == "unhandled"]
    assert [(e.source, e.events) for e in edges] == [("ask", ("exhausted",))]
    assert "ask --> unhandled_" in to_mermaid(Sloppy)
    assert 'label="exhausted — unhandled!", color="#c62828"' in to_dot(Sloppy)


def test_svg_with_the_real_dot_binary(tmp_path: Path) -> None:
    path = render(Nested, tmp_path / "nested.svg", active=["outer", "inner", "second"])
    document = xml.dom.minidom.parse(str(path))
    titles = {t.firstChild.data for t in document.getElementsByTagName("title") if t.firstChild}
    assert {"first", "second", "pick", "note_a", "end"} <= titles
    png = render(Signup, tmp_path / "signup.png", format="png")
    assert png.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="svg"):
        render(Signup, tmp_path / "x.gif", format="gif")


def test_missing_dot_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(flowhq.diagrams.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizError, match="apt-get install graphviz"):
        render(Signup, tmp_path / "x.svg")


async def test_highlights_a_stored_conversation_and_hides_secrets() -> None:
    store = MemoryStore()
    hq = Headquarters(flows=[SupportMenu], store=store)
    await hq.initialize("whatsapp", "+1", auth_token="sekret-token", dashboard={"pin": "4242"})
    for n, text in enumerate(["hi", "tech"]):
        await hq.handle(InboundMessage("whatsapp", "+1", f"m{n}", text))
    document = (await store.load(ConversationKey("whatsapp", "+1"))).document
    assert document is not None
    mermaid = to_mermaid(SupportMenu, active=document)
    assert "class ask_device active" in mermaid
    dot = to_dot(SupportMenu, active=document)
    assert '"ask_device" [label=' in dot
    assert 'fillcolor="#ffd54f"' in dot
    for text in (mermaid, dot):
        assert "sekret" not in text
        assert "4242" not in text
    with pytest.raises(TypeError):
        to_mermaid(SupportMenu, active="ask_device")


def test_committed_diagrams_are_current() -> None:
    assert stale(ROOT) == [], "run `make diagrams`"


def test_readme_shows_the_signup_diagram() -> None:
    assert to_mermaid(Signup) in (ROOT / "README.md").read_text()


async def test_cli_diagram(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    import asyncio

    assert await asyncio.to_thread(main, ["diagram", "examples.signup:Signup"]) == 0
    assert capsys.readouterr().out == to_mermaid(Signup)
    assert await asyncio.to_thread(main, ["diagram", "examples.signup:Signup", "-f", "dot"]) == 0
    assert capsys.readouterr().out == to_dot(Signup)
    out = tmp_path / "s.svg"
    args = ["diagram", "examples.signup:Signup", "-f", "svg", "-o", str(out)]
    assert await asyncio.to_thread(main, args) == 0
    assert out.read_bytes().startswith(b"<?xml")
    assert await asyncio.to_thread(main, ["diagram", "examples.signup:Signup", "-f", "svg"]) == 2

    store = RedisStore.from_url(redis_url)
    hq = Headquarters(flows=[Signup], store=store)
    await hq.handle(InboundMessage("whatsapp", "+7", "m1", "hi"))
    await store.close()
    args = [
        "diagram",
        "examples.signup:Signup",
        "--conversation",
        "whatsapp:+7",
        "--redis",
        redis_url,
    ]
    assert await asyncio.to_thread(main, args) == 0
    assert "class ask_name active" in capsys.readouterr().out
    assert await asyncio.to_thread(main, args[:4]) == 2  # --conversation without --redis

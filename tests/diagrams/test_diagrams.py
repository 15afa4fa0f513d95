"""Diagrams from code: golden texts, completeness, determinism, SVG, highlighting, secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.dom.minidom
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from statemachine import State as PlainState
from statemachine import StateChart

import flowhq.diagrams
import flowhq.statecharts.flow
from examples.clinic import Booking, VisitReminder
from examples.order_status import OrderStatus
from examples.signup import Signup
from examples.support_menu import SupportMenu
from flowhq import (
    Confirm,
    ConversationKey,
    Flow,
    Headquarters,
    InboundMessage,
    MemoryStore,
    Message,
    Prompt,
    RedisStore,
    State,
    Wait,
)
from flowhq.cli import main
from flowhq.diagrams import extract, render, to_dot, to_mermaid
from flowhq.errors import GraphvizError
from flowhq.testing import no_api
from scripts.regenerate_diagrams import stale
from tests.flows import Age, Menu, Nested

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = [Signup, SupportMenu, OrderStatus, Booking, VisitReminder]
UPDATE = os.environ.get("FLOWHQ_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("flow", EXAMPLES, ids=lambda f: f.name)
@pytest.mark.parametrize(("suffix", "render_text"), [("mmd", to_mermaid), ("dot", to_dot)])
def test_golden(flow: type[Flow], suffix: str, render_text: object) -> None:
    text = render_text(flow)  # type: ignore[operator]
    golden = GOLDEN / f"{flow.name}.{suffix}"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text(), "regenerate with FLOWHQ_UPDATE_GOLDEN=1 if intended"


def _declared(flow: type[Flow]) -> Counter[tuple[str, str, frozenset[str]]]:
    """Every declared transition, read from the class with python-statemachine's own API."""

    def walk(states: list[State]) -> Iterator[State]:
        for state in states:
            yield state
            yield from walk(list(state.states))
            yield from state.history

    return Counter(
        (t.source.id, t.target.id, _events(str(e) for e in t.events))
        for state in walk(list(flow.states))
        for t in state.transitions
        if not t.initial
    )


def _events(names: Iterable[str]) -> frozenset[str]:
    # `done_state_x` and `done.state.x` are one event under two spellings.
    return frozenset(name.replace(".", "_") for name in names)


def _label_events(label: str) -> frozenset[str]:
    head = label.split(" [", maxsplit=1)[0].split(" (typed", maxsplit=1)[0]
    names = (name.split(" (after ", maxsplit=1)[0] for name in head.split(" / ") if name)
    # a Wait's `done` is drawn as `after 10m`
    return _events("done" if name.startswith("after ") else name for name in names)


_DOT_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?;$')
_DOT_ATTRIBUTE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _dot_edges(dot: str) -> Counter[tuple[str, str, frozenset[str]]]:
    edges: Counter[tuple[str, str, frozenset[str]]] = Counter()
    for line in dot.splitlines():
        match = _DOT_EDGE.match(line)
        if match is None:
            continue
        source, target, attributes = match.group(1), match.group(2), match.group(3) or ""
        found = dict(_DOT_ATTRIBUTE.findall(attributes))
        if source == "__start" or target.startswith("__unhandled_"):
            continue  # the initial arrow; unhandled results are counted elsewhere
        if source.startswith("__start_"):
            assert "ltail" not in found, "edges out of a compound leave from its border"
            continue  # a cluster's arrow to its initial child
        if source.startswith("__exit_"):
            assert found["ltail"] == "cluster_" + source.removeprefix("__exit_")
            source = found["ltail"].removeprefix("cluster_")
        if "lhead" in found:
            target = found["lhead"].removeprefix("cluster_")
        edges[(source, target, _label_events(found.get("label", "")))] += 1
    return edges


def _mermaid_edges(mermaid: str, state_ids: set[str]) -> Counter[tuple[str, str, frozenset[str]]]:
    def state(name: str) -> str:  # Mermaid-reserved ids such as `end` carry a suffix
        return name if name in state_ids else name.removesuffix("_state")

    edges: Counter[tuple[str, str, frozenset[str]]] = Counter()
    for line in mermaid.splitlines():
        arrow, _, label = line.strip().partition(" : ")
        if " --> " not in arrow:
            continue
        source, target = arrow.split(" --> ")
        if "[*]" in (source, target) or target.startswith("unhandled_"):
            continue
        edges[(state(source), state(target), _label_events(label))] += 1
    return edges


@pytest.mark.parametrize("flow", [*EXAMPLES, Age, Nested, Menu], ids=lambda f: f.name)
def test_every_transition_is_exactly_one_edge(flow: type[Flow]) -> None:
    expected = _declared(flow)
    model = Counter((e.source, e.target, _events(e.events)) for e in extract(flow).edges)
    assert model == expected
    assert _dot_edges(to_dot(flow)) == expected
    state_ids = {node.id for node in extract(flow).walk()}
    assert _mermaid_edges(to_mermaid(flow), state_ids) == expected


def test_labels_show_kinds_texts_guards_and_commands() -> None:
    mermaid = to_mermaid(SupportMenu)
    assert "Choice#58; How can we help? [billing#58; Billing" in mermaid
    assert "support --> help_text : help (typed#58; 'help')" in mermaid
    assert 'state "H*" as resume' in mermaid  # deep history by default
    assert "resume --> topic" in mermaid
    assert "ApiCall#58; GET /orders/#123;order_id#125;" in to_mermaid(OrderStatus)
    dot = to_dot(Age)
    assert 'label="valid [is_adult]"' in dot
    assert "peripheries=2" in dot


def test_output_is_byte_identical_across_processes() -> None:
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from flowhq.diagrams import to_dot, to_mermaid;"
        "from examples.order_status import OrderStatus;"
        "from examples.signup import Signup;"
        "from examples.support_menu import SupportMenu;"
        "from tests.flows import Nested;"
        "flows = [Signup, SupportMenu, OrderStatus, Nested];"
        "print(''.join(to_dot(f) + to_mermaid(f, active=['outer', 'second']) for f in flows))"
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


def test_timer_edges_show_their_delay_and_reminders_are_noted() -> None:
    labels = {(e.source, e.target): e.label for e in extract(Booking).edges}
    assert labels[("day", "expired")] == "timeout (after 23h)"
    assert labels[("hold", "slot")] == "after 10m"
    assert labels[("help_text", "back")] == "done"  # a Message's done is no timer
    assert labels[("day", "hold")] == "valid"
    mermaid, dot = to_mermaid(Booking), to_dot(Booking)
    assert "hold --> slot : after 10m" in mermaid
    assert "day --> expired : timeout (after 23h)" in mermaid
    assert '→ day<br/>reminders#58; 2h" as day' in mermaid
    assert '"hold" -> "slot" [label="after 10m"];' in dot
    assert 'to Friday) → day\\nreminders: 2h"' in dot


class Timers(Flow):
    """Timeouts handled by a compound and by a closer state; a done only a Message makes."""

    class asking(State.Compound):
        first = Prompt(
            "First?", timeout=3600, reminders=[(60, "Hello?"), (600, "Still?")], initial=True
        )
        second = Confirm("Second?", timeout=7200)
        third = Prompt("Third?", timeout=90)
        valid = first.to(second)
        yes = second.to(third)
        no = second.to(first)

    class pausing(State.Compound):
        pause = Wait(30, initial=True)
        note = Message("Noted.")
        done = pause.to(note)

    late = Message("Too late.", final=True)
    quick = Message("Quick!")
    end = Message("End.", final=True)

    timeout = asking.to(late) | asking.third.to(quick)
    valid = asking.third.to(pausing)
    done = pausing.to(end) | quick.to(end)


def test_timer_edges_of_compound_states() -> None:
    labels = {(e.source, e.target): e.label for e in extract(Timers).edges}
    # third times out into its own edge, so the compound's edge serves first and second
    assert labels[("asking", "late")] == "timeout (after 1h or 2h)"
    assert labels[("third", "quick")] == "timeout (after 1m30s)"
    assert labels[("pause", "note")] == "after 30s"
    assert labels[("quick", "end")] == "done"
    assert labels[("pausing", "end")] == "done"  # the wait's done is taken inside
    notes = {node.id: node.notes for node in extract(Timers).walk()}
    assert notes["first"] == ("reminders: 1m, 10m",)
    assert notes["second"] == ()


def test_an_unhandled_timeout_shows_its_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flowhq.statecharts.flow, "find_problems", lambda flow: [])

    class Forgetful(Flow):  # a flow the checker would refuse
        ask = Prompt("Day?", timeout=600, initial=True)
        done_msg = Message("Thanks.", final=True)
        valid = ask.to(done_msg)

    edges = [e for e in extract(Forgetful).edges if e.kind == "unhandled"]
    assert [e.label for e in edges] == ["timeout (after 10m) — unhandled!"]


def test_any_statechart_can_be_drawn() -> None:
    class Door(StateChart):  # a plain python-statemachine chart, not a Flow
        closed = PlainState(initial=True)
        opened = PlainState()
        gone = PlainState(final=True)

        push = closed.to(opened, cond="unlocked") | closed.to(gone, unless="unlocked")
        pull = opened.to(closed)

        def unlocked(self) -> bool:
            return True

    diagram = extract(Door)
    assert diagram.name == "Door"
    assert [n.kind for n in diagram.nodes] == ["state", "state", "final"]
    assert [e.label for e in diagram.edges] == ["push [unlocked]", "push [not unlocked]", "pull"]
    assert 'label="push [not unlocked]"' in to_dot(Door)


def test_stale_diagrams_are_reported(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "diagrams", tmp_path / "diagrams")
    assert stale(tmp_path) == []
    md = tmp_path / "diagrams" / "signup.md"
    md.write_text(md.read_text().replace("first_name", "ask_name"))
    svg = tmp_path / "diagrams" / "support_menu.svg"  # the stamp is intact, a state is not
    svg.write_text(svg.read_text().replace("<title>problem</title>", "<title>x</title>"))
    (tmp_path / "diagrams" / "order_status.svg").unlink()
    assert stale(tmp_path) == [
        md,
        svg,
        tmp_path / "diagrams" / "order_status.svg",
    ]


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
    assert "class device active" in mermaid
    dot = to_dot(SupportMenu, active=document)
    assert '"device" [label=' in dot
    assert 'fillcolor="#ffd54f"' in dot
    for text in (mermaid, dot):
        assert "sekret" not in text
        assert "4242" not in text
    with pytest.raises(TypeError):
        to_mermaid(SupportMenu, active="device")


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
    hq = Headquarters(flows=[Signup], store=store, api=no_api())
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
    assert "class first_name active" in capsys.readouterr().out
    assert await asyncio.to_thread(main, args[:4]) == 2  # --conversation without --redis


async def test_a_done_state_transition_just_taken_is_marked_on_the_diagram() -> None:
    """The step reports `done_state_both`; the edge must be found under that name, not
    only under python-statemachine's second spelling `done.state.both`."""
    hq = Headquarters(flows=[Nested], store=MemoryStore(), api=no_api())
    outcome = None
    for n, text in enumerate(["hi", "an answer", "yes", "Left"]):
        outcome = await hq.handle(InboundMessage("whatsapp", "+1555", f"m{n}", text))
    assert outcome is not None
    assert outcome.record is not None
    assert ("both", "end", "done_state_both") in outcome.record.transitions
    diagram = extract(Nested, taken=outcome.record.transitions)
    (edge,) = [e for e in diagram.edges if (e.source, e.target) == ("both", "end")]
    assert diagram.was_taken(edge)

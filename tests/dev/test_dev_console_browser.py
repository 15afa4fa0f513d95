"""The console page in a real browser: ``flowhq dev`` as a subprocess, Debian's chromium headless.

Playwright drives ``/usr/bin/chromium`` (installed by ``scripts/system-deps.sh``); it never
downloads a browser. Without chromium this test fails, it does not skip.

Screenshots land in ``test-artifacts/``; with ``FLOWHQ_UPDATE_SCREENSHOTS=1`` the ones the docs
show are also written to ``docs/images/dev-console-*.png``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.support import free_port, running_flowhq, served

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
DOCS_IMAGES = ROOT / "docs" / "images"
ACTIVE = re.compile(r"\bactive\b")


@contextlib.contextmanager
def flowhq_dev(
    log: Path,
    *options: str,
    probe: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    flow: str = "examples.pizza:PizzaOrder",
) -> Iterator[str]:
    """``flowhq dev`` with ``flow`` (the pizza's) and the demo API, on a free port: its URL."""
    port = free_port()
    arguments = ["dev", flow, "--asgi", "examples.demo_api:app", "--port", str(port)]
    arguments += ["--no-reload", *options]
    environment = {**os.environ, **(env or {})}
    with running_flowhq(
        arguments, log=log, port=port, ready="/api/info", headers=probe, env=environment
    ) as base:
        yield base


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``flowhq dev`` on loopback, without a token: its base URL."""
    with flowhq_dev(tmp_path_factory.mktemp("console") / "flowhq-dev.log") as base:
        yield base


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of Debian's headless chromium (missing chromium fails the test)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh (apt package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            tab = context.new_page()
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.set_default_timeout(10_000)
            yield tab
            assert not errors, errors
        finally:
            browser.close()


def screenshot(target: Page | Locator, name: str) -> None:
    """Save ``test-artifacts/<name>.png``; for the docs too with FLOWHQ_UPDATE_SCREENSHOTS=1."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=path)
    if os.environ.get("FLOWHQ_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / f"{name}.png")


def by_test_id(page: Page, test_id: str) -> Locator:
    return page.locator(f"[data-testid={test_id}]")


def send(page: Page, text: str) -> None:
    """Type ``text`` and press Enter, as a user would."""
    box = by_test_id(page, "message-input")
    box.fill(text)
    box.press("Enter")


def bot_says(page: Page, text: str | re.Pattern[str]) -> Locator:
    """The bot's bubble saying ``text``, once it is there."""
    bubble = page.locator("[data-testid=bubble][data-direction=out]").filter(has_text=text).last
    expect(bubble).to_be_visible()
    return bubble


def state_node(page: Page, state: str) -> Locator:
    return by_test_id(page, "diagram").locator(f"#state-{state}")


def box_of(target: Locator) -> dict[str, float]:
    box = target.bounding_box()
    assert box is not None
    return box


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def zoom(page: Page) -> int:
    return int(by_test_id(page, "diagram").get_attribute("data-zoom") or "0")


def check_the_statechart_reads_and_moves(page: Page) -> None:
    """The pizza chart is wider than its pane: fitted whole its labels were 6 px high. It
    opens at full size around the active state; Fit, the buttons, the wheel and a drag
    change the view."""
    diagram = by_test_id(page, "diagram")
    label = state_node(page, "confirm").locator("text").first
    expect(diagram).to_have_attribute("data-zoom", "100")
    assert box_of(label)["height"] >= 12  # 10 pt labels at full size
    assert inside(box_of(state_node(page, "confirm")), box_of(diagram))
    by_test_id(page, "zoom-fit").click()
    assert zoom(page) < 75
    assert inside(box_of(diagram.locator("svg > g.graph")), box_of(diagram))  # all of it
    expect(by_test_id(page, "zoom-level")).to_contain_text("fit")
    fitted = zoom(page)
    by_test_id(page, "zoom-in").click()
    assert zoom(page) > fitted
    by_test_id(page, "zoom-natural").click()
    expect(diagram).to_have_attribute("data-zoom", "100")
    before = diagram.locator("svg").get_attribute("viewBox")
    area = box_of(diagram)
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] / 2 - 150, area["y"] + area["height"] / 2)
    page.mouse.up()
    after = diagram.locator("svg").get_attribute("viewBox")
    assert before is not None
    assert after is not None
    assert float(after.split()[0]) > float(before.split()[0])  # dragged left: sees more right
    page.mouse.wheel(0, 300)  # the wheel zooms out
    expect(diagram).not_to_have_attribute("data-zoom", "100")
    by_test_id(page, "zoom-natural").click()


def test_pizza_order_in_the_browser(console: str, page: Page) -> None:
    page.goto(console)
    expect(page.locator("body[data-ready=yes]")).to_be_attached()
    expect(by_test_id(page, "user-switcher")).to_have_value("15550001001")

    # A text message, answered with a list: the picker shows rows with their descriptions.
    send(page, "hi")
    mine = page.locator("[data-testid=bubble][data-direction=in]").filter(has_text="hi")
    expect(mine).to_be_visible()
    expect(mine).to_have_attribute("data-status", "read")  # WhatsApp's blue ticks
    menu = bot_says(page, "Which pizza would you like?")
    expect(menu).to_have_attribute("data-kind", "list")
    expect(state_node(page, "pizza")).to_have_class(ACTIVE)
    menu.get_by_test_id("list-button").click()
    sheet = by_test_id(page, "list-sheet")
    expect(sheet).to_be_visible()
    expect(by_test_id(page, "list-row")).to_have_count(5)
    four_cheese = by_test_id(page, "list-row").filter(has_text="Four cheese")
    expect(four_cheese).to_contain_text("Mozzarella, gorgonzola, parmesan, fontina")
    screenshot(page.get_by_test_id("chat"), "dev-console-list")
    four_cheese.click()
    expect(sheet).to_be_hidden()

    # Reply buttons.
    bot_says(page, "Which size?")
    by_test_id(page, "reply-button").filter(has_text="Medium").click()
    bot_says(page, re.compile(r"How many .*Medium.*Four cheese", re.IGNORECASE))
    expect(state_node(page, "quantity")).to_have_class(ACTIVE)

    # Text answers; the highlighted state moves on.
    send(page, "2")
    bot_says(page, "Where should we deliver?")
    send(page, "1 Main Street")
    bot_says(page, "Shall I order?")
    expect(state_node(page, "confirm")).to_have_class(ACTIVE)
    expect(state_node(page, "quantity")).not_to_have_class(ACTIVE)
    state = by_test_id(page, "state-pane")
    expect(state).to_contain_text("1 Main Street")
    # Every reply has gone out: the outbox waits for nothing (the stored document still
    # holds the last one until the next commit; it is not listed as waiting).
    expect(state.get_by_role("heading", name="Outbox (0 pending)")).to_be_visible()
    expect(by_test_id(page, "outbox")).to_have_text("empty: every reply has left")
    expect(by_test_id(page, "timeline-step")).to_have_count(5)
    check_the_statechart_reads_and_moves(page)
    screenshot(page, "dev-console")
    screenshot(by_test_id(page, "diagram"), "dev-console-diagram")
    screenshot(state, "dev-console-state")

    # Force the API call to fail, then confirm.
    by_test_id(page, "force-state").select_option("pizza_order/place")
    by_test_id(page, "force-result").select_option("error")
    by_test_id(page, "force-button").click()
    notice = page.locator("[data-testid=bubble][data-direction=system]")
    expect(notice.filter(has_text="Next time place runs")).to_be_visible()
    screenshot(by_test_id(page, "controls"), "dev-console-controls")
    by_test_id(page, "reply-button").filter(has_text=re.compile("^yes$", re.IGNORECASE)).click()
    bot_says(page, "Our kitchen is not answering. Please try again later.")
    expect(state_node(page, "failed")).to_have_class(ACTIVE)
    expect(by_test_id(page, "timeline")).to_contain_text("place: error")
    screenshot(page.get_by_test_id("chat"), "dev-console-chat")
    screenshot(page.locator(".timeline-pane"), "dev-console-timeline")

    # The inspector: the conversation is listed and opens read-only; the funnel counts it.
    by_test_id(page, "inspector-tab").click()
    row = by_test_id(page, "conversation-row").filter(has_text="whatsapp:15550001001")
    expect(row).to_contain_text("failed")
    finished = by_test_id(page, "funnel").locator("[data-name=finished]")
    expect(finished).to_have_attribute("data-count", "1")
    expect(by_test_id(page, "funnel-note")).to_contain_text("read 1 key")
    row.click()
    opened = by_test_id(page, "opened")
    expect(opened).to_contain_text("1 Main Street")
    diagram = by_test_id(page, "opened-diagram")
    expect(diagram.locator("#state-failed")).to_have_class(ACTIVE)  # its states, not the user's
    expect(by_test_id(page, "reset")).to_be_hidden()  # read-only without --allow-reset
    screenshot(page, "dev-console-inspector")


def test_the_page_works_with_a_token_and_resets_through_the_guard(
    tmp_path: Path, page: Page
) -> None:
    """Every request of the page passes the console's checks: the token (a header for fetch,
    the query for the event stream and the diagram), same-origin JSON writes, and a reset."""
    token = "browser-test-token"
    log = tmp_path / "flowhq-dev.log"
    probe = {"authorization": f"Bearer {token}"}
    env = {"FLOWHQ_DEV_TOKEN": token}
    with flowhq_dev(log, "--allow-reset", probe=probe, env=env) as base:
        assert httpx.get(f"{base}/api/info").status_code == 401
        page.goto(f"{base}/?token={token}")
        expect(page.locator("body[data-ready=yes]")).to_be_attached()
        expect(page.locator("body[data-live=yes]")).to_be_attached()  # the event stream
        send(page, "hi")
        bot_says(page, "Which pizza would you like?")  # arrived through the event stream
        expect(state_node(page, "pizza")).to_have_class(ACTIVE)  # the diagram, token in query
        by_test_id(page, "inspector-tab").click()
        by_test_id(page, "conversation-row").filter(has_text="whatsapp:15550001001").click()
        expect(by_test_id(page, "opened-diagram").locator("#state-pizza")).to_have_class(ACTIVE)
        page.once("dialog", lambda dialog: dialog.accept())
        by_test_id(page, "reset").click()
        expect(page.locator("#reset-result")).to_have_text("deleted")
        gone = httpx.get(f"{base}/api/conversations/whatsapp:15550001001", headers=probe)
        assert gone.status_code == 404


def test_timers_in_the_browser(tmp_path: Path, page: Page) -> None:
    """A question with a reminder (10 min) and a timeout (1 h): the user sees the question,
    moves the clock ahead, gets the reminder, then the timeout's reply, and the timers pane
    empties. "Fire now" fires one timer at once."""
    flow = "tests.dev.test_dev_console:Appointment"
    with flowhq_dev(tmp_path / "flowhq-dev.log", flow=flow) as base:
        page.goto(base)
        expect(page.locator("body[data-ready=yes]")).to_be_attached()
        expect(by_test_id(page, "clock-ahead")).to_have_text("real time")
        timers = by_test_id(page, "timer")
        expect(timers).to_have_count(0)
        expect(by_test_id(page, "timers-empty")).to_be_visible()

        send(page, "hi")
        bot_says(page, "Which day suits you?")
        expect(timers).to_have_count(2)
        reminder, timeout = timers.nth(0), timers.nth(1)
        expect(reminder).to_have_attribute("data-kind", "reminder")
        expect(reminder).to_contain_text("reminder 1 at day")
        expect(reminder).to_contain_text(re.compile(r"in (9|10) min"))
        expect(timeout).to_contain_text("timeout of day")
        expect(timeout).to_contain_text(re.compile(r"in (59 min|1 h)"))
        screenshot(by_test_id(page, "time-pane"), "dev-console-time")

        by_test_id(page, "advance-10min").click()
        bot_says(page, "Still there? Which day suits you?")
        expect(timers).to_have_count(1)
        expect(timers.first).to_have_attribute("data-kind", "timeout")
        expect(by_test_id(page, "clock-ahead")).to_have_text("10 min ahead of real time")

        by_test_id(page, "advance-1h").click()
        bot_says(page, "No answer, so no booking. Write again when you're ready.")
        expect(timers).to_have_count(0)
        expect(by_test_id(page, "timers-empty")).to_be_visible()
        expect(by_test_id(page, "clock-ahead")).to_have_text("1 h 10 min ahead of real time")
        timeline = by_test_id(page, "timeline")
        expect(timeline).to_contain_text("⏰ day.timeout")
        expect(timeline).to_contain_text("day: timeout")
        screenshot(page.get_by_test_id("chat"), "dev-console-timers-chat")

        # A second user: "Fire now" on the timeout skips the reminder; a command in the
        # timeline reads as one ("command: cancel", never "null: cancel").
        by_test_id(page, "add-user").click()
        expect(by_test_id(page, "user-switcher")).to_have_value("15550001002")
        send(page, "hi")
        bot_says(page, "Which day suits you?")
        expect(timers).to_have_count(2)
        timers.filter(has_text="timeout of day").get_by_test_id("fire-timer").click()
        bot_says(page, "No answer, so no booking.")
        expect(timers).to_have_count(0)
        by_test_id(page, "restart").click()
        bot_says(page, "Which day suits you?")
        expect(timers).to_have_count(2)
        send(page, "cancel")
        bot_says(page, "Cancelled.")
        expect(timers).to_have_count(0)
        expect(timeline).to_contain_text("command: cancel")
        expect(timeline).not_to_contain_text("null")

        # A day later the chat marks the new day, as WhatsApp does (counted from before: the
        # real clock may have passed midnight already).
        chips = by_test_id(page, "day-chip")
        days = chips.count()
        by_test_id(page, "advance-1day").click()
        expect(by_test_id(page, "clock-ahead")).to_have_text(re.compile(r"^1 day "))
        send(page, "hi")
        expect(page.locator("[data-testid=bubble][data-direction=in]")).to_have_count(3)
        expect(chips).to_have_count(days + 1)


def attack(chat: str) -> Starlette:
    """Another site's page: it posts to ``chat`` as a no-cors text/plain fetch, then as a
    form, the two writes a browser sends without asking the console first."""
    html = f"""<!doctype html>
        <form id="form" method="post" action="{chat}/text" enctype="text/plain">
          <input name='{{"text": "from a form", "x": "' value='"}}'>
        </form>
        <script>
          fetch("{chat}/text", {{method: "POST", mode: "no-cors",
            headers: {{"Content-Type": "text/plain"}}, body: '{{"text": "from a fetch"}}'}})
            .finally(() => document.getElementById("form").submit());
        </script>"""

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", index)])


@pytest.mark.parametrize("other", ["localhost", "127.0.0.1"], ids=["cross-site", "same-site"])
def test_another_site_cannot_post_to_the_console(console: str, page: Page, other: str) -> None:
    """The other site is served on loopback too (a page from the internet is kept from
    loopback by chromium itself, other browsers do not): ``localhost`` is another site than
    the console's ``127.0.0.1``; ``127.0.0.1`` on another port is the same site, another
    origin, as another local app would be."""
    own = {"origin": console, "sec-fetch-site": "same-origin"}
    user = httpx.post(f"{console}/api/users", json={}, headers=own).json()["user"]
    chat = f"{console}/api/chat/{user}"
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url == f"{chat}/text" else None)
    with served(attack(chat)) as served_at:
        page.goto(served_at.replace("127.0.0.1", other))
        expect(page).to_have_url(f"{chat}/text")  # the form was sent, after the fetch
    assert statuses == [403, 403]
    # Replies come in order: once the console answered its own "hi", a message the other
    # site had slipped in would be in the chat before it.
    httpx.post(f"{chat}/text", json={"text": "hi"}, headers=own)
    deadline = time.monotonic() + 10
    while len(entries := httpx.get(chat).json()["entries"]) < 2:
        assert time.monotonic() < deadline, entries
        time.sleep(0.05)
    assert [entry["text"] for entry in entries if entry["direction"] == "in"] == ["hi"]

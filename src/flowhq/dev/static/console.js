// flowhq dev: the console page. Plain DOM, one module, no build step.
// The backend's API is in src/flowhq/dev/app.py; events come from /api/events (SSE).

import { mountInbox } from "./inbox.js";

const $ = (selector) => document.querySelector(selector);
const token = new URLSearchParams(location.search).get("token");
const tokenQuery = token ? `?token=${encodeURIComponent(token)}` : "";

const page = {
  info: null, // /api/info
  user: null, // the simulated user shown
  flowChoice: "", // "" follows the conversation's flow
  conversationFlow: null, // the shown user's flow, from /api/state
  shown: new Set(), // ids of the bubbles on screen
  replay: { paths: [], move: 0 },
  cursor: "0", // the inspector's SCAN cursor
  clock: { now: Date.now() / 1000, ahead: 0, readAt: performance.now() }, // the console's time
  lastDay: null, // the day of the last bubble shown
};

// -- talking to the backend ------------------------------------------------------------------

async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

const post = (path, body = {}) => api(path, { method: "POST", body });
const userPath = (action) => `/api/chat/${encodeURIComponent(page.user)}/${action}`;

// Runs an action; shows its error in the banner instead of failing silently.
async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    showBanner(error.message, "error");
    return undefined;
  }
}

function showBanner(text, kind = "info") {
  const banner = $("#banner");
  banner.textContent = text;
  banner.className = `banner ${kind}`;
  banner.hidden = false;
  clearTimeout(showBanner.timer);
  showBanner.timer = setTimeout(() => (banner.hidden = true), kind === "error" ? 10000 : 5000);
}

// -- small DOM helpers -------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

function options(select, items, selected) {
  select.replaceChildren(
    ...items.map(([value, label]) => el("option", { value, selected: value === selected }, label)),
  );
}

const clock = (seconds) =>
  new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const day = (seconds) =>
  new Date(seconds * 1000).toLocaleDateString([], {
    weekday: "short",
    day: "numeric",
    month: "short",
  });

// A JSON value as nested <details>: objects and arrays fold, the first levels open.
function jsonTree(value, depth = 0) {
  if (value === null || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return el("span", { class: `json-${kind}` }, JSON.stringify(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (entries.length === 0)
    return el("span", { class: "json-empty" }, Array.isArray(value) ? "[]" : "{}");
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return el(
    "details",
    { class: "json", open: depth < 2 },
    el("summary", {}, summary),
    el(
      "ul",
      {},
      entries.map(([key, item]) =>
        el("li", {}, el("span", { class: "json-key" }, `${key}: `), jsonTree(item, depth + 1)),
      ),
    ),
  );
}

// -- the chat ----------------------------------------------------------------------------------

function bubble(entry) {
  const side = { in: "user", out: "bot" }[entry.direction] || "system";
  const node = el("li", {
    class: `bubble ${side} kind-${entry.kind}`,
    "data-testid": "bubble",
    "data-direction": entry.direction,
    "data-kind": entry.kind,
    "data-id": entry.id,
    "data-wamid": entry.wamid,
  });
  node.append(el("div", { class: "text" }, entry.text));
  if (entry.direction !== "system") {
    const meta = el("span", { class: "meta" }, clock(entry.at));
    if (entry.direction === "in")
      meta.append(el("span", { class: "ticks", "data-testid": "ticks" }));
    node.append(meta);
    setStatus(node, entry.status);
  }
  if (entry.kind === "list") {
    node.append(
      el(
        "button",
        { class: "list-button", "data-testid": "list-button", onclick: () => openSheet(entry) },
        `☰ ${entry.label || "Choose"}`,
      ),
    );
  }
  if (entry.kind === "buttons") {
    const buttons = entry.options.map((option) =>
      el(
        "button",
        {
          class: "reply-button",
          "data-testid": "reply-button",
          onclick: () => tap(option, false),
        },
        option.title,
      ),
    );
    return [node, el("li", { class: "reply-buttons" }, buttons)];
  }
  return [node];
}

function setStatus(node, status) {
  const ticks = node.querySelector(".ticks");
  if (!ticks) return;
  node.dataset.status = status || "";
  ticks.textContent = status === "read" || status === "delivered" ? "✓✓" : "✓";
  ticks.classList.toggle("read", status === "read");
}

function addEntry(entry) {
  if (page.shown.has(entry.id)) return;
  page.shown.add(entry.id);
  const list = $("#messages");
  // A new day (the console's clock moved ahead, or midnight passed): a chip, as WhatsApp's.
  const today = day(entry.at);
  if (page.lastDay !== null && today !== page.lastDay)
    list.append(el("li", { class: "day-chip", "data-testid": "day-chip" }, today));
  page.lastDay = today;
  list.append(...bubble(entry));
  if (entry.direction === "out") setTyping(false);
  list.scrollTop = list.scrollHeight;
}

async function loadChat() {
  const { entries } = await api(`/api/chat/${encodeURIComponent(page.user)}`);
  page.shown.clear();
  page.lastDay = null;
  $("#messages").replaceChildren();
  setTyping(false);
  entries.forEach(addEntry);
}

function setTyping(on) {
  $("#typing").hidden = !on;
  $("#presence").textContent = on ? "typing…" : "online";
  clearTimeout(setTyping.timer);
  // WhatsApp drops the indicator after 25 s, or when the answer comes.
  if (on) setTyping.timer = setTimeout(() => setTyping(false), 25000);
}

const say = (text) => attempt(() => post(userPath("text"), { text }));
const tap = (option, row) =>
  attempt(() => post(userPath("tap"), { id: option.id, title: option.title, row }));

function openSheet(entry) {
  $("#sheet-title").textContent = entry.label || "Choose";
  const rows = entry.options.map((option) =>
    el(
      "li",
      {
        "data-testid": "list-row",
        onclick: () => {
          closeSheet();
          tap(option, true);
        },
      },
      el("strong", {}, option.title),
      option.description ? el("small", {}, option.description) : null,
    ),
  );
  $("#sheet-rows").replaceChildren(...rows);
  $("#sheet").hidden = false;
}

function closeSheet() {
  $("#sheet").hidden = true;
}

async function shareLocation() {
  const answer = prompt("Latitude, longitude, place name", "52.5200, 13.4050, Alexanderplatz");
  if (!answer) return;
  const [latitude, longitude, ...name] = answer.split(",").map((part) => part.trim());
  if (Number.isNaN(Number(latitude)) || Number.isNaN(Number(longitude))) {
    showBanner("A location is: latitude, longitude, name", "error");
    return;
  }
  await attempt(() =>
    post(userPath("location"), {
      latitude: Number(latitude),
      longitude: Number(longitude),
      name: name.join(", "),
    }),
  );
}

// -- users -------------------------------------------------------------------------------------

function renderUsers(users) {
  options(
    $("#users"),
    users.map((user) => [user, `+${user}`]),
    page.user,
  );
}

async function showUser(user) {
  page.user = user;
  page.conversationFlow = null;
  $("#users").value = user;
  await Promise.all([loadChat(), refreshState(), refreshTimers()]);
  refreshDiagram();
}

// -- the diagram -------------------------------------------------------------------------------

function diagramFlow() {
  return page.flowChoice || page.conversationFlow || page.info.entry;
}

// Zoom and pan. Graphviz draws in points, so the SVG's own size (1 pt = 4/3 px) is "100%".
// A chart that fits its pane with readable labels is shown whole; a bigger one is shown at
// 100% around the active state, and follows it as the conversation moves.
const NATURAL = 4 / 3; // px per diagram unit at 100%
const READABLE = 0.75; // the least zoom shown by default: the smallest labels are 9 px
const MOST = 4; // the most zoom

class Viewer {
  constructor(box, level) {
    this.box = box;
    this.level = level; // where the zoom level is written
    this.svg = null;
    this.chart = null; // the whole chart's box, in diagram units
    this.key = null; // what is shown (a flow): the view is kept while it stays the same
    this.view = undefined; // {scale, cx, cy}; null: fit the pane; undefined: not chosen yet
    new ResizeObserver(() => this.apply()).observe(box);
    box.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    box.addEventListener("pointerdown", (event) => this.drag(event));
  }

  show(text, key) {
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    const svg = document.importNode(parsed, true);
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    const [x, y, w, h] = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
    const same = key === this.key;
    this.box.replaceChildren(svg);
    Object.assign(this, { svg, chart: { x, y, w, h }, key });
    if (!same) this.view = undefined;
    this.apply();
    if (same) this.follow();
  }

  size() {
    const { width, height } = this.box.getBoundingClientRect();
    return width && height ? { width, height } : null; // hidden: nothing to fit to yet
  }

  fitScale(size) {
    return Math.min(size.width / this.chart.w, size.height / this.chart.h, NATURAL);
  }

  apply() {
    const size = this.size();
    if (!this.svg || !size) return;
    const choosing = this.view === undefined; // a chart just shown: fit it first
    if (choosing) this.view = null;
    const { chart } = this;
    const view = this.view || {
      scale: this.fitScale(size),
      cx: chart.x + chart.w / 2,
      cy: chart.y + chart.h / 2,
    };
    const w = size.width / view.scale;
    const h = size.height / view.scale;
    this.svg.setAttribute("viewBox", `${view.cx - w / 2} ${view.cy - h / 2} ${w} ${h}`);
    const percent = Math.round((100 * view.scale) / NATURAL);
    this.box.dataset.zoom = percent;
    if (this.level) this.level.textContent = this.view ? `${percent}%` : `fit (${percent}%)`;
    // Fitted too small to read: 100% around the active state (located in the fitted view).
    if (choosing && this.fitScale(size) < READABLE * NATURAL)
      this.setView(size, NATURAL, ...this.centre(this.svg.querySelector(".node.active")));
  }

  // Shows the chart at `scale` around (cx, cy), kept from leaving the pane.
  setView(size, scale, cx, cy) {
    const { chart } = this;
    const fit = Math.min(size.width / chart.w, size.height / chart.h);
    scale = Math.min(MOST, Math.max(Math.min(fit, NATURAL), scale)); // no smaller than whole
    const clamp = (centre, start, length, seen) =>
      seen >= length
        ? start + length / 2
        : Math.min(start + length - seen / 2, Math.max(start + seen / 2, centre));
    cx = clamp(cx, chart.x, chart.w, size.width / scale);
    cy = clamp(cy, chart.y, chart.h, size.height / scale);
    this.view = { scale, cx, cy };
    this.apply();
  }

  // Where a node is, in diagram units (the whole chart's centre without one).
  centre(node) {
    if (!node) return [this.chart.x + this.chart.w / 2, this.chart.y + this.chart.h / 2];
    const box = this.locate(node);
    return [box.x + box.w / 2, box.y + box.h / 2];
  }

  locate(node) {
    const shown = this.svg.viewBox.baseVal;
    const frame = this.svg.getBoundingClientRect();
    const rect = node.getBoundingClientRect();
    const units = shown.width / frame.width;
    return {
      x: shown.x + (rect.left - frame.left) * units,
      y: shown.y + (rect.top - frame.top) * units,
      w: rect.width * units,
      h: rect.height * units,
    };
  }

  // After a step: bring the active state back into sight when it left it.
  follow() {
    const size = this.size();
    const node = this.svg.querySelector(".node.active");
    if (!this.view || !size || !node) return;
    const frame = this.box.getBoundingClientRect();
    const rect = node.getBoundingClientRect();
    const inside =
      rect.left >= frame.left &&
      rect.right <= frame.right &&
      rect.top >= frame.top &&
      rect.bottom <= frame.bottom;
    if (!inside) this.setView(size, this.view.scale, ...this.centre(node));
  }

  current(size) {
    if (this.view) return this.view;
    const { chart } = this;
    return { scale: this.fitScale(size), cx: chart.x + chart.w / 2, cy: chart.y + chart.h / 2 };
  }

  // Zooms by `factor`, keeping the point at (px, py) in the pane (default: its centre) still.
  zoom(factor, px, py) {
    const size = this.size();
    if (!this.svg || !size) return;
    const { scale, cx, cy } = this.current(size);
    const dx = (px ?? size.width / 2) - size.width / 2;
    const dy = (py ?? size.height / 2) - size.height / 2;
    const next = Math.min(MOST, scale * factor);
    this.setView(size, next, cx + dx / scale - dx / next, cy + dy / scale - dy / next);
  }

  fit() {
    this.view = null;
    this.apply();
  }

  natural() {
    const size = this.size();
    if (!this.svg || !size) return;
    this.setView(size, NATURAL, ...this.centre(this.svg.querySelector(".node.active")));
  }

  wheel(event) {
    if (!this.svg) return;
    event.preventDefault();
    const frame = this.box.getBoundingClientRect();
    this.zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - frame.left, event.clientY - frame.top);
  }

  drag(event) {
    const size = this.size();
    if (!this.svg || !size || event.button !== 0) return;
    const start = { x: event.clientX, y: event.clientY, ...this.current(size) };
    this.box.setPointerCapture(event.pointerId);
    this.box.classList.add("dragging");
    const move = (moved) => {
      const dx = (moved.clientX - start.x) / start.scale;
      const dy = (moved.clientY - start.y) / start.scale;
      this.setView(size, start.scale, start.cx - dx, start.cy - dy);
    };
    const end = () => {
      this.box.removeEventListener("pointermove", move);
      this.box.classList.remove("dragging");
    };
    this.box.addEventListener("pointermove", move);
    this.box.addEventListener("pointerup", end, { once: true });
    this.box.addEventListener("pointercancel", end, { once: true });
  }
}

let diagramViewer = null;
let openedViewer = null;

function wireZoom(toolbar, viewer) {
  for (const button of toolbar.querySelectorAll("button[data-zoom]")) {
    const action = button.dataset.zoom;
    button.addEventListener("click", () => {
      if (action === "in") viewer.zoom(1.25);
      else if (action === "out") viewer.zoom(0.8);
      else if (action === "fit") viewer.fit();
      else viewer.natural();
    });
  }
}

let diagramRequest = 0;
async function refreshDiagram() {
  const request = ++diagramRequest;
  const flow = diagramFlow();
  const path = `/api/diagram/${encodeURIComponent(flow)}.svg?user=${encodeURIComponent(page.user)}`;
  const text = await attempt(() => api(path));
  if (text === undefined || request !== diagramRequest) return; // a newer one is on its way
  diagramViewer.show(text, flow);
  $("#diagram").dataset.flow = flow;
}

function renderFlows() {
  const flows = page.info.flows.map((f) => [f.name, f.name]);
  options($("#flow"), [["", "follow the conversation"], ...flows], page.flowChoice);
  options($("#filter-flow"), [["", "any flow"], ...flows], $("#filter-flow").value);
  options($("#funnel-flow"), flows, $("#funnel-flow").value || page.info.entry);
  renderForce();
  renderFilterStates();
}

// -- the state pane ----------------------------------------------------------------------------

function table(rows, headings) {
  if (rows.length === 0) return el("p", { class: "empty" }, "none");
  const row = (cells, tag) =>
    el(
      "tr",
      {},
      cells.map((cell) => el(tag, {}, cell)),
    );
  const body = rows.map((cells) => row(cells, "td"));
  return el("table", { class: "kv" }, headings ? row(headings, "th") : null, body);
}

function format(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// The stored document as the page shows it (the simulated user's, or one the inspector opened).
function conversationView(shown) {
  if (!shown) return [el("p", { class: "empty" }, "No conversation yet: say something.")];
  const document_ = shown.document;
  const current = document_.current;
  const attempts = document_.validation.attempts || {};
  const history = document_.validation.history || [];
  const facts = el(
    "div",
    { class: "facts" },
    table([
      ["key", shown.key],
      ["flow", current.path || `${document_.chart.flow} (ended)`],
      ["waiting at", current.component || "—"],
      ["last result", current.component_result || "—"],
      ["configuration", document_.chart.configuration.join(" › ")],
    ]),
    el("h3", {}, "Saved values"),
    table(
      Object.entries(current.values).map(([name, value]) => [
        name,
        format(value),
        current.labels[name] === undefined ? "" : format(current.labels[name]),
      ]),
      ["name", "value", "label"],
    ),
    el("h3", {}, "Validation"),
    table(
      Object.entries(attempts).map(([state, count]) => [state, `attempt ${count}`]),
      ["state", "attempts"],
    ),
    history.length ? el("ol", { class: "validation" }, history.map(validationItem)) : null,
    ...outboxView(shown.outbox),
  );
  const stored = el(
    "div",
    { class: "stored" },
    el("h3", {}, "Stored document (redacted)"),
    el("div", { class: "json-root", "data-testid": "document" }, jsonTree(document_)),
  );
  return [facts, stored];
}

// The replies still to send. A delivered reply stays in the stored document until its next
// commit drops it: it is counted, not listed as waiting.
function outboxView(outbox) {
  const waiting = outbox.filter((item) => item.status !== "delivered");
  const sent = outbox.length - waiting.length;
  const pending = waiting.filter((item) => item.status === "pending").length;
  const item = (entry) =>
    el(
      "li",
      { "data-status": entry.status },
      `r${entry.revision}: ${entry.text}`,
      entry.status === "failed" ? el("span", { class: "bad" }, ` not sent: ${entry.reason}`) : null,
    );
  return [
    el("h3", {}, `Outbox (${pending} pending)`),
    waiting.length
      ? el("ol", { class: "outbox", "data-testid": "outbox" }, waiting.map(item))
      : el("p", { class: "empty", "data-testid": "outbox" }, "empty: every reply has left"),
    sent
      ? el(
          "p",
          { class: "note" },
          `${sent} delivered ${sent === 1 ? "reply stays" : "replies stay"} in the stored `,
          "document until its next commit drops them.",
        )
      : null,
  ];
}

function validationItem(item) {
  const verdict = item.success
    ? el("span", { class: "ok" }, "valid")
    : el("span", { class: "bad" }, item.error || "invalid");
  return el(
    "li",
    {},
    `${item.component || item.operation} `,
    verdict,
    el("small", {}, ` ${item.timestamp || ""}`),
  );
}

// What started a step: a message, the start, or timers (their step's message is "timer:ID").
function cause(step) {
  if (step.message === null) return "(start)";
  if (/^timer:\S+(, timer:\S+)*$/.test(step.message))
    return `⏰ ${step.message.replaceAll("timer:", "")}`;
  return `“${step.message}”`;
}

function timelineItem(step) {
  // A command fires its event from no state: "command: cancel", not "null: cancel".
  const fired = step.fired.map((f) =>
    f.state === null ? `command: ${f.result}` : `${f.state}: ${f.result}`,
  );
  const moves = step.transitions.map(
    (t) => `${t.source} → ${t.target}${t.event ? ` (${t.event})` : ""}`,
  );
  return el(
    "li",
    { "data-testid": "timeline-step" },
    el("span", { class: "when" }, clock(step.at)),
    el("span", { class: "said" }, cause(step)),
    fired.length ? el("span", { class: "fired" }, fired.join(", ")) : null,
    moves.length ? el("span", { class: "moves" }, moves.join(", ")) : null,
    step.replies.map((reply) => el("span", { class: "reply" }, reply)),
    step.finished ? el("span", { class: "finished" }, "finished") : null,
  );
}

let stateRequest = 0;
async function refreshState() {
  const request = ++stateRequest;
  const data = await attempt(() => api(`/api/state/${encodeURIComponent(page.user)}`));
  if (!data || request !== stateRequest) return;
  const shown = data.conversation;
  const previous = page.conversationFlow;
  page.conversationFlow = shown ? shown.document.current.path || shown.document.chart.flow : null;
  $("#revision").textContent = shown ? `revision ${shown.revision}` : "";
  $("#state").replaceChildren(...conversationView(shown));
  $("#timeline").replaceChildren(...data.timeline.map(timelineItem).reverse());
  if (previous !== page.conversationFlow && !page.flowChoice) refreshDiagram();
}

// -- time --------------------------------------------------------------------------------------

// The console's time is its own: real time, plus what "advance the clock" skipped. The page
// reads it with every answer about time and runs it on between reads.
function consoleNow() {
  return page.clock.now + (performance.now() - page.clock.readAt) / 1000;
}

function setClock({ now, ahead }) {
  page.clock = { now, ahead, readAt: performance.now() };
  renderClock();
}

const UNITS = [
  [86400, "day"],
  [3600, "h"],
  [60, "min"],
  [1, "s"],
];

// "1 day 2 h", "10 min", "45 s": the two largest units.
function span(seconds) {
  let left = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [size, unit] of UNITS) {
    const count = Math.floor(left / size);
    const name = unit === "day" && count > 1 ? "days" : unit;
    if (count && parts.length < 2) parts.push(`${count} ${name}`);
    left -= count * size;
  }
  return parts.join(" ") || "0 s";
}

const relative = (seconds) => (seconds >= 1 ? `in ${span(seconds)}` : "due now");

function renderClock() {
  const now = consoleNow();
  const date = new Date(now * 1000);
  $("#clock").textContent = `${day(now)}, ${date.toLocaleTimeString()}`;
  $("#clock").dataset.now = String(Math.floor(now));
  $("#clock-ahead").textContent =
    page.clock.ahead > 0 ? `${span(page.clock.ahead)} ahead of real time` : "real time";
  for (const cell of document.querySelectorAll("[data-due]"))
    cell.textContent = relative(Number(cell.dataset.due) - now);
}

// A due time: the time of day, with the date when it is not the console's today.
const at = (seconds) =>
  day(seconds) === day(consoleNow()) ? clock(seconds) : `${day(seconds)}, ${clock(seconds)}`;

function timerWhat(timer) {
  if (timer.kind === "reminder") return `reminder ${timer.number} at ${timer.state}`;
  if (timer.kind === "timeout") return `timeout of ${timer.state}`;
  if (timer.kind === "wait") return `end of the wait at ${timer.state}`;
  if (timer.kind === "event") return `event ${timer.event}`;
  if (timer.kind === "start") return `start of ${timer.data.flow}`;
  return timer.kind;
}

let timersRequest = 0;
async function refreshTimers() {
  const request = ++timersRequest;
  const data = await attempt(() => api(`/api/timers/${encodeURIComponent(page.user)}`));
  if (!data || request !== timersRequest) return;
  const rows = data.timers.map((timer) =>
    el(
      "tr",
      { "data-testid": "timer", "data-id": timer.id, "data-kind": timer.kind },
      el("td", {}, timerWhat(timer)),
      el("td", { class: "due", "data-due": timer.due }, relative(timer.in)),
      el("td", { class: "at", title: new Date(timer.due * 1000).toString() }, at(timer.due)),
      el(
        "td",
        {},
        el(
          "button",
          { "data-testid": "fire-timer", onclick: () => fireTimer(timer.id) },
          "Fire now",
        ),
      ),
    ),
  );
  $("#timers").replaceChildren(...rows);
  $("#timers-empty").hidden = rows.length > 0;
  $("#timers-user").textContent = `+${page.user}`;
  setClock(data);
}

async function fireTimer(id) {
  const path = `/api/timers/${encodeURIComponent(page.user)}/fire`;
  const data = await attempt(() => post(path, { timer: id }));
  if (data) setClock(data); // its step refreshes the rest
}

async function advance(seconds) {
  if (!(seconds > 0)) {
    showBanner("Advance the clock by a positive amount", "error");
    return;
  }
  const data = await attempt(() => post("/api/clock", { advance: seconds }));
  if (!data) return;
  setClock(data);
  showBanner(`The clock moved ${span(seconds)} ahead: ${plural(data.fired, "timer")} fired`);
  refreshTimers();
}

// -- controls ----------------------------------------------------------------------------------

function renderForce() {
  const select = $("#force-state");
  select.replaceChildren(
    ...page.info.flows
      .filter((flow) => Object.keys(flow.forceable).length)
      .map((flow) =>
        el(
          "optgroup",
          { label: flow.name },
          Object.keys(flow.forceable).map((state) =>
            el("option", { value: `${flow.name}/${state}` }, state),
          ),
        ),
      ),
  );
  renderForceResults();
}

function renderForceResults() {
  const [flowName, state] = $("#force-state").value.split("/");
  const flow = page.info.flows.find((f) => f.name === flowName);
  const results = flow ? flow.forceable[state] : [];
  options(
    $("#force-result"),
    results.map((r) => [r, r]),
  );
}

async function force() {
  const [flow, state] = $("#force-state").value.split("/");
  const result = $("#force-result").value;
  if (!state || !result) return;
  await attempt(() => post(userPath("force"), { flow, state, result }));
}

async function loadPaths() {
  const flow = diagramFlow();
  const { paths } = await api(`/api/paths/${encodeURIComponent(flow)}`);
  page.replay = { flow, paths, move: 0 };
  $("#replay-flow").textContent = flow;
  options(
    $("#replay-path"),
    paths.map((path, index) => [
      String(index),
      `${index + 1}. ${path.lines.slice(1).map(short).join(" · ")}`,
    ]),
  );
  renderReplay();
}

const short = (line) => line.split(" -> ")[0].replace(/^say /, "");

function renderReplay() {
  const path = page.replay.paths[Number($("#replay-path").value)];
  const lines = path ? path.lines : [];
  $("#replay-lines").replaceChildren(
    ...lines.map((line, index) =>
      el(
        "li",
        { class: index < page.replay.move ? "done" : index === page.replay.move ? "next" : "" },
        line,
      ),
    ),
  );
  const left = path && page.replay.move < path.moves.length;
  $("#replay-next").disabled = !left;
  $("#replay-next").textContent = left
    ? `Next step (${page.replay.move + 1}/${path.moves.length})`
    : "Done";
}

async function replayNext() {
  const { flow, move } = page.replay;
  const path = Number($("#replay-path").value);
  const ok = await attempt(() => post(userPath("replay"), { flow, path, move }));
  if (ok) page.replay.move += 1;
  renderReplay();
}

// -- the inspector -----------------------------------------------------------------------------

function renderFilterStates() {
  const flow = page.info.flows.find((f) => f.name === $("#filter-flow").value);
  const states = flow ? flow.states : [...new Set(page.info.flows.flatMap((f) => f.states))];
  options(
    $("#filter-state"),
    [["", "any state"], ...states.map((s) => [s, s])],
    $("#filter-state").value,
  );
}

async function listConversations(more = false) {
  if (!more) page.cursor = "0";
  const query = new URLSearchParams({
    cursor: page.cursor,
    flow: $("#filter-flow").value,
    state: $("#filter-state").value,
  });
  const data = await attempt(() => api(`/api/conversations?${query}`));
  if (!data) return;
  const rows = data.items.map((item) =>
    el(
      "tr",
      { "data-testid": "conversation-row", onclick: () => openConversation(item.key) },
      el("td", {}, item.key),
      el("td", {}, item.unreadable ? "unreadable" : item.flow || "—"),
      el("td", {}, item.unreadable || (item.active ? item.state : `ended at ${item.state}`)),
      el("td", {}, item.updated_at ? new Date(item.updated_at).toLocaleString() : ""),
    ),
  );
  const body = $("#conversation-list");
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  if (!body.children.length)
    body.append(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "none on this page")));
  page.cursor = data.cursor;
  $("#more").hidden = data.cursor === "0";
}

async function openConversation(key) {
  const shown = await attempt(() => api(`/api/conversations/${encodeURIComponent(key)}`));
  if (!shown) return;
  const flow = shown.document.chart.flow;
  $("#opened").hidden = false;
  $("#opened").dataset.key = key;
  $("#opened-key").textContent = `${key} (read-only)`;
  $("#opened-state").replaceChildren(...conversationView(shown));
  $("#reset").hidden = !page.info.allow_reset;
  $("#reset-result").textContent = "";
  const path = `/api/diagram/${encodeURIComponent(flow)}.svg?${new URLSearchParams({ key })}`;
  const text = await attempt(() => api(path));
  if (text !== undefined && $("#opened").dataset.key === key) openedViewer.show(text, flow);
}

async function resetConversation() {
  const key = $("#opened").dataset.key;
  if (!key || !confirm(`Delete ${key} from the store?`)) return;
  try {
    const { deleted } = await post(`/api/conversations/${encodeURIComponent(key)}`);
    $("#reset-result").textContent = deleted ? "deleted" : "already gone";
    listConversations();
  } catch (error) {
    $("#reset-result").textContent = error.message;
  }
}

const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;

const ENDS = ["finished", "exhausted", "cancelled", "expired"];

async function refreshFunnel() {
  const flow = $("#funnel-flow").value || page.info.entry;
  const sample = $("#funnel-sample").value || "5000";
  const data = await attempt(() => api(`/api/funnel/${encodeURIComponent(flow)}?sample=${sample}`));
  if (!data) return;
  const bars = [
    ...Object.entries(data.waiting).map(([state, count]) => ["waiting", state, count]),
    ...ENDS.map((end) => ["ended", end, data.ended[end] || 0]),
  ];
  const most = Math.max(1, ...bars.map((bar) => bar[2]));
  $("#funnel").replaceChildren(
    el(
      "ul",
      { class: "bars" },
      bars.map(([group, name, count]) =>
        el(
          "li",
          { class: group, "data-testid": "funnel-bar", "data-name": name, "data-count": count },
          el("span", { class: "name" }, group === "waiting" ? `at ${name}` : name),
          el("span", { class: "bar", style: `width: ${(100 * count) / most}%` }),
          el("span", { class: "count" }, String(count)),
        ),
      ),
    ),
    el(
      "p",
      { class: "note", "data-testid": "funnel-note" },
      data.sampled
        ? `sampled ${data.read} of ~${data.total ?? "?"} keys`
        : `read ${plural(data.read, "key")}`,
      data.unreadable ? `, ${data.unreadable} unreadable` : "",
      ". Expired: unfinished and idle more than 24 h.",
    ),
  );
}

function showTab(name) {
  for (const tab of document.querySelectorAll(".tab"))
    tab.classList.toggle("selected", tab.dataset.tab === name);
  $("#simulator").hidden = name !== "simulator";
  $("#inspector").hidden = name !== "inspector";
  $("#inbox").hidden = name !== "inbox";
  if (name === "inbox") mountInbox($("#inbox"));
  if (name === "inspector") {
    listConversations();
    refreshFunnel();
  }
}

// -- events ------------------------------------------------------------------------------------

function onEvent(event) {
  if (event.type === "message") {
    const user = event.user;
    if (!page.info.users.includes(user)) {
      page.info.users.push(user);
      renderUsers(page.info.users);
    }
    if (user === page.user) addEntry(event.entry);
  } else if (event.type === "read" && event.user === page.user) {
    const node = document.querySelector(`.bubble[data-wamid="${CSS.escape(event.wamid)}"]`);
    if (node) setStatus(node, "read");
    // Read receipts race the reply; only a message still unanswered makes the bot "type".
    const last = $("#messages").lastElementChild;
    if (event.typing && last && last.dataset.wamid === event.wamid) setTyping(true);
  } else if (event.type === "step" && event.user === page.user) {
    setTyping(false);
    refreshState();
    refreshDiagram();
    refreshTimers();
  } else if (event.type === "clock") {
    setClock(event);
    refreshTimers();
  } else if (event.type === "reload") {
    if (event.ok) showBanner(`flow reloaded: ${event.flows.join(", ")}`);
    else showBanner(`flow reload failed: ${event.error}`, "error");
    reloadInfo();
  }
}

function listen() {
  const source = new EventSource(`/api/events${tokenQuery}`);
  let opened = false;
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  source.onopen = () => {
    // After a reconnect, catch up on what was missed.
    if (opened && page.user) showUser(page.user);
    opened = true;
    document.body.dataset.live = "yes";
  };
  source.onerror = () => (document.body.dataset.live = "no");
}

async function reloadInfo() {
  page.info = await api("/api/info");
  renderFlows();
  renderUsers(page.info.users);
  refreshDiagram();
  loadPaths().catch((error) => showBanner(error.message, "error"));
}

// -- wiring ------------------------------------------------------------------------------------

function wire() {
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("#text").value.trim();
    if (!text) return;
    $("#text").value = "";
    say(text);
  });
  $("#share-location").addEventListener("click", shareLocation);
  $("#sheet-close").addEventListener("click", closeSheet);
  $("#sheet").addEventListener("click", (event) => event.target === $("#sheet") && closeSheet());
  $("#users").addEventListener("change", () => showUser($("#users").value));
  $("#add-user").addEventListener("click", async (event) => {
    event.preventDefault();
    const data = await attempt(() => post("/api/users"));
    if (!data) return;
    page.info.users = data.users;
    renderUsers(data.users);
    showUser(data.user);
  });
  $("#flow").addEventListener("change", () => {
    page.flowChoice = $("#flow").value;
    refreshDiagram();
    loadPaths();
  });
  $("#restart").addEventListener("click", () => attempt(() => post(userPath("restart"))));
  $("#locale").addEventListener("change", () =>
    attempt(() => post(userPath("locale"), { locale: $("#locale").value })),
  );
  $("#force-state").addEventListener("change", renderForceResults);
  $("#force").addEventListener("click", force);
  $("#replay-path").addEventListener("change", () => {
    page.replay.move = 0;
    renderReplay();
  });
  $("#replay-next").addEventListener("click", replayNext);
  for (const tab of document.querySelectorAll(".tab"))
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    listConversations();
  });
  $("#filter-flow").addEventListener("change", renderFilterStates);
  $("#more").addEventListener("click", () => listConversations(true));
  $("#funnel-form").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshFunnel();
  });
  $("#funnel-flow").addEventListener("change", refreshFunnel);
  $("#reset").addEventListener("click", resetConversation);
  for (const button of document.querySelectorAll("button[data-advance]"))
    button.addEventListener("click", () => advance(Number(button.dataset.advance)));
  $("#advance-custom").addEventListener("submit", (event) => {
    event.preventDefault();
    advance(Number($("#advance-amount").value) * Number($("#advance-unit").value));
  });
  diagramViewer = new Viewer($("#diagram"), $("#zoom-level"));
  openedViewer = new Viewer($("#opened-diagram"), $("#opened-zoom-level"));
  wireZoom($("#diagram-zoom"), diagramViewer);
  wireZoom($("#opened-zoom"), openedViewer);
  setInterval(renderClock, 1000);
}

async function start() {
  wire();
  page.info = await api("/api/info");
  setClock(page.info.clock);
  page.user = page.info.users[0];
  $("#inspecting").textContent =
    `(${page.info.inspecting}${page.info.allow_reset ? ", reset allowed" : ", read-only"})`;
  renderFlows();
  renderUsers(page.info.users);
  listen();
  await showUser(page.user);
  await loadPaths().catch((error) => showBanner(error.message, "error"));
  document.body.dataset.ready = "yes";
}

start().catch((error) => showBanner(`the console could not start: ${error.message}`, "error"));

// flowhq inbox: the operator page. Plain DOM, one module, no build step.
// The backend's API is in src/flowhq/dev/operator.py (mounted at /api/inbox). Every text
// from a conversation goes into the page as textContent, never as HTML.
// `flowhq inbox` serves it alone (inbox.html); `flowhq dev` shows it in its "Inbox" tab.

const POLL_MS = 2000;
const AGENT_KEY = "flowhq.inbox.agent";
const token = new URLSearchParams(location.search).get("token");

async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/inbox${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error((data && data.error) || `${response.status}`);
  return data;
}

// el("div", {class: "x", "data-testid": "y"}, child, "text", ...): texts become text nodes.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function waited(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function clockTime(epoch) {
  if (!epoch) return "";
  return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function storedAgent() {
  try {
    return localStorage.getItem(AGENT_KEY) || "";
  } catch {
    return "";
  }
}

function rememberAgent(name) {
  try {
    localStorage.setItem(AGENT_KEY, name);
  } catch {
    // a page without storage still sends the name with each reply
  }
}

function skeleton() {
  const view = {};
  view.notice = el("p", { class: "inbox-notice", "data-testid": "inbox-notice" });
  view.status = el("p", { class: "inbox-status", "data-testid": "inbox-status", role: "status" });
  view.list = el("ul", { class: "inbox-list", "data-testid": "inbox-list" });
  view.empty = el("p", { class: "empty", "data-testid": "inbox-empty" }, "Nobody is waiting.");
  view.pauseChannel = el("input", {
    value: "whatsapp",
    "aria-label": "channel",
    "data-testid": "inbox-pause-channel",
  });
  view.pauseIdentifier = el("input", {
    placeholder: "phone number",
    "aria-label": "identifier",
    "data-testid": "inbox-pause-identifier",
  });
  view.pauseReason = el("input", {
    placeholder: "reason (optional)",
    "aria-label": "reason",
    "data-testid": "inbox-pause-reason",
  });
  view.pauseForm = el(
    "form",
    { class: "inbox-pause" },
    el("strong", {}, "Take a conversation over"),
    view.pauseChannel,
    view.pauseIdentifier,
    view.pauseReason,
    el("button", { "data-testid": "inbox-pause" }, "Pause"),
  );
  view.title = el("h2", { "data-testid": "inbox-selected" }, "Select a conversation");
  view.state = el("small", { "data-testid": "inbox-selected-state" });
  view.transcript = el("ol", { class: "inbox-transcript", "data-testid": "inbox-transcript" });
  view.agent = el("input", {
    placeholder: "your name",
    "aria-label": "agent name",
    value: storedAgent(),
    "data-testid": "inbox-agent",
  });
  view.text = el("textarea", {
    rows: "3",
    placeholder: "Reply as yourself, through the bot's number",
    "aria-label": "reply",
    "data-testid": "inbox-reply-text",
  });
  view.replyForm = el(
    "form",
    { class: "inbox-reply" },
    view.agent,
    view.text,
    el("button", { "data-testid": "inbox-send" }, "Send"),
  );
  view.result = el("select", { "aria-label": "result", "data-testid": "inbox-result" });
  view.resume = el("button", { type: "button", "data-testid": "inbox-resume" }, "Resume");
  view.pauseThis = el(
    "button",
    { type: "button", "data-testid": "inbox-pause-this", hidden: true },
    "Pause this conversation",
  );
  view.giveBack = el(
    "span",
    { class: "inbox-give-back" },
    el("label", {}, "Give it back to the bot with ", view.result),
    view.resume,
  );
  view.actions = el("div", { class: "inbox-actions" }, view.giveBack, view.pauseThis);
  view.detail = el(
    "section",
    { class: "inbox-detail", "data-testid": "inbox-detail", hidden: true },
    el("div", { class: "inbox-head" }, view.title, view.state),
    view.transcript,
    view.replyForm,
    view.actions,
  );
  view.root = el(
    "div",
    { class: "inbox" },
    view.notice,
    el(
      "section",
      { class: "inbox-waiting" },
      el("h2", {}, "Waiting for a person ", el("small", {}, "most recently paused first")),
      view.list,
      view.empty,
      view.pauseForm,
    ),
    view.detail,
    view.status,
  );
  return view;
}

export function mountInbox(root) {
  if (root.inbox) {
    root.inbox.refresh(); // shown again: catch up at once
    return root.inbox;
  }
  const view = skeleton();
  root.replaceChildren(view.root);
  const page = { selected: null, paused: [], now: 0, readAt: 0, shownCount: -1 };

  const say = (text, kind = "info") => {
    view.status.textContent = text;
    view.status.className = `inbox-status ${kind}`;
  };
  const attempt = async (action) => {
    try {
      return await action();
    } catch (error) {
      say(error.message, "error");
      return undefined;
    }
  };
  // The server's time now: its clock (the console's may run ahead) plus what passed here.
  const serverNow = () => page.now + (performance.now() - page.readAt) / 1000;
  const selectedPause = () => page.paused.find((item) => item.key === page.selected) || null;

  function renderList() {
    view.list.replaceChildren(
      ...page.paused.map((item) =>
        el(
          "li",
          {
            class: item.key === page.selected ? "selected" : "",
            "data-key": item.key,
            "data-testid": "inbox-item",
          },
          el(
            "button",
            { type: "button", class: "inbox-pick" },
            el("strong", {}, item.identifier),
            el("small", {}, ` ${item.channel}`),
            el(
              "span",
              { class: "inbox-meta" },
              el("span", { "data-testid": "inbox-waited" }, `waiting ${waited(serverNow() - item.since_epoch)}`),
              " · ",
              el("span", { "data-testid": "inbox-unanswered" }, `${item.waiting} unanswered`),
              " · ",
              item.state ? `in ${item.state}` : item.reason || "paused",
            ),
          ),
        ),
      ),
    );
    view.empty.hidden = page.paused.length > 0;
  }

  function renderActions() {
    const paused = selectedPause();
    const results = paused ? paused.results : ["resumed"];
    const current = view.result.value;
    view.result.replaceChildren(...results.map((result) => el("option", { value: result }, result)));
    if (results.includes(current)) view.result.value = current;
    view.state.textContent = paused
      ? ` paused ${waited(serverNow() - paused.since_epoch)} ago${paused.flow ? ` in ${paused.flow}` : ""}`
      : " not in the paused list: the bot answers it";
    view.pauseThis.hidden = Boolean(paused);
    view.giveBack.hidden = !paused;
  }

  function renderTranscript(entries) {
    view.transcript.replaceChildren(
      ...entries.map((entry) =>
        el(
          "li",
          {
            class: `inbox-entry ${entry.direction}${entry.agent ? " agent" : ""}`,
            "data-direction": entry.direction,
            "data-testid": "inbox-entry",
          },
          el(
            "span",
            { class: "inbox-who" },
            entry.direction === "in" ? "user" : entry.agent ? entry.agent : "bot",
          ),
          entry.kind !== "text" ? el("em", { class: "inbox-kind" }, `[${entry.kind}] `) : null,
          el("span", { class: "inbox-text" }, entry.text),
          el("time", {}, clockTime(entry.at_epoch)),
        ),
      ),
    );
    if (entries.length !== page.shownCount)
      view.transcript.scrollTop = view.transcript.scrollHeight;
    page.shownCount = entries.length;
  }

  async function refreshList() {
    const data = await api("/paused");
    page.paused = data.items;
    page.now = data.now;
    page.readAt = performance.now();
    renderList();
    if (page.selected) renderActions();
  }

  async function refreshSelected() {
    if (!page.selected) return;
    const data = await api(`/conversation?key=${encodeURIComponent(page.selected)}`);
    if (data.key !== page.selected) return;
    renderTranscript(data.transcript);
    renderActions();
  }

  async function select(key) {
    page.selected = key;
    page.shownCount = -1;
    view.detail.hidden = false;
    view.title.textContent = key;
    renderList();
    await attempt(refreshSelected);
  }

  async function refresh() {
    await attempt(async () => {
      await refreshList();
      await refreshSelected();
    });
    root.dataset.live = "yes";
  }

  view.list.addEventListener("click", (event) => {
    const item = event.target.closest("li[data-key]");
    if (item) select(item.dataset.key);
  });
  view.agent.addEventListener("change", () => rememberAgent(view.agent.value.trim()));
  view.replyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = view.text.value;
    if (!text.trim() || !page.selected) return;
    const agent = view.agent.value.trim();
    rememberAgent(agent);
    const done = await attempt(() =>
      api("/reply", { method: "POST", body: { key: page.selected, text, agent: agent || null } }),
    );
    if (!done) return;
    view.text.value = "";
    say(`Reply ${done.delivery}.`);
    await refresh();
  });
  view.resume.addEventListener("click", async () => {
    if (!page.selected) return;
    const result = view.result.value || "resumed";
    const done = await attempt(() =>
      api("/resume", { method: "POST", body: { key: page.selected, result } }),
    );
    if (!done) return;
    say(`Resumed with ${result}; the bot answers again (${done.delivery}).`);
    await refresh();
  });
  const pause = async (channel, identifier, reason) => {
    const done = await attempt(() =>
      api("/pause", { method: "POST", body: { channel, identifier, reason: reason || null } }),
    );
    if (!done) return;
    say(`Paused ${done.key}: the bot answers nothing until it is resumed.`);
    await refresh();
    await select(done.key);
  };
  view.pauseForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const channel = view.pauseChannel.value.trim();
    const identifier = view.pauseIdentifier.value.trim();
    if (channel && identifier) pause(channel, identifier, view.pauseReason.value.trim());
  });
  view.pauseThis.addEventListener("click", () => {
    if (!page.selected) return;
    const [channel, ...rest] = page.selected.split(":");
    pause(channel, rest.join(":"), "");
  });

  attempt(async () => {
    const info = await api("/info");
    view.notice.textContent = info.notice;
    view.notice.dataset.delivery = info.delivery;
  });
  refresh().then(() => (root.dataset.ready = "yes"));
  setInterval(() => root.closest("[hidden]") || refresh(), POLL_MS); // a hidden tab rests
  root.inbox = { select, refresh, pause };
  return root.inbox;
}

const standalone = document.querySelector("[data-inbox-standalone]");
if (standalone) mountInbox(standalone);

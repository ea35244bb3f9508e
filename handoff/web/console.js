// The agent console: live queue, my chats, chat view, composer, templates, claim/transfer/resolve.
// Live updates come over /api/live; the last stream id seen is resent on reconnect (replay).
"use strict";

const state = {
  me: null, tickets: new Map(), current: null, lines: new Map(), lastId: "", socket: null,
  agents: [], templates: [], windowUntil: 0, retry: 500,
};
const $ = (id) => document.getElementById(id);
const TICKS = { sent: "✓", delivered: "✓✓", read: "✓✓", failed: "✗" };

// Tickets ------------------------------------------------------------------------------------
function upsertTicket(t) {
  const known = state.tickets.get(t.id);
  if (known && (known.seq || 0) > (t.seq || 0)) return;  // an older update arrived late
  if (t.status === "hidden") state.tickets.delete(t.id); else state.tickets.set(t.id, t);
  if (state.current && state.current.id === t.id && t.status !== "hidden") {
    state.current = Object.assign({}, state.current, t);
    renderChatHead();
  }
}

function renderLists() {
  const groups = { queue: [], mine: [], followup: [] };
  for (const t of state.tickets.values()) {
    if (t.status === "queued") groups.queue.push(t);
    else if (t.status === "timed_out") groups.followup.push(t);
    else if (t.status === "assigned" && t.agent === state.me.id) groups.mine.push(t);
  }
  for (const [name, items] of Object.entries(groups)) {
    items.sort((a, b) => (a.waiting_since || a.queued_at).localeCompare(b.waiting_since || b.queued_at));
    const list = $(name);
    clear(list);
    items.forEach((t, index) => list.appendChild(ticketRow(t, name, index)));
    $(name + "-count").textContent = String(items.length);
  }
}

function ticketRow(t, group, index) {
  const since = Date.parse(t.waiting_since || t.queued_at);
  const row = el("li", { class: "ticket" + (state.current && state.current.id === t.id ? " active" : ""),
                         "data-ticket-id": t.id, onclick: () => openChat(t.id) },
    el("span", { class: "name", text: t.name || t.wa_id }),
    el("span", { class: "reason", text: t.reason }),
    group === "queue" ? el("span", { class: "wait", "data-since": String(since), text: duration((Date.now() - since) / 1000) }) : null,
    group === "queue" ? el("span", { class: "muted place", text: "#" + (index + 1) }) : null);
  if (group !== "mine") {
    row.appendChild(el("button", { class: "claim", text: "Claim", onclick: (e) => { e.stopPropagation(); claim(t.id); } }));
  }
  return row;
}

async function loadTickets() {
  const views = ["queue", "followup", "mine"];
  const results = await Promise.all(views.map((v) => api("GET", "/api/tickets?view=" + v)));
  results.forEach((r) => r.tickets.forEach(upsertTicket));
  renderLists();
}

// Actions ------------------------------------------------------------------------------------
async function act(fn) {
  showError("");
  try { return await fn(); } catch (err) { showError(err.message); return null; }
}

async function claim(id) {
  const r = await act(() => api("POST", "/api/tickets/" + encodeURIComponent(id) + "/claim"));
  if (r) { upsertTicket(r.ticket); renderLists(); openChat(id); }
  else { await loadTickets(); }
}

async function transfer() {
  const target = $("transfer-to").value;
  const r = await act(() => api("POST", "/api/tickets/" + encodeURIComponent(state.current.id) + "/transfer", { agent: target }));
  if (r) { upsertTicket(r.ticket); closeChat(); renderLists(); }
}

async function resolve() {
  const r = await act(() => api("POST", "/api/tickets/" + encodeURIComponent(state.current.id) + "/resolve"));
  if (!r) return;
  upsertTicket(r.ticket);
  if (r.bot && r.bot.error) showError("Resolved, but the bot was not resumed: " + r.bot.error);
  closeChat(); renderLists();
}

async function sendText(event) {
  event.preventDefault();
  const text = $("composer-text").value;
  if (!text.trim()) return;
  const r = await act(() => api("POST", "/api/tickets/" + encodeURIComponent(state.current.id) + "/reply", { text }));
  if (r) $("composer-text").value = "";
}

async function sendTemplate(event) {
  event.preventDefault();
  const t = state.templates[Number($("template").value)];
  if (!t) return;
  const params = Array.from(document.querySelectorAll("#template-vars input")).map((i) => i.value);
  const body = { template: { name: t.name, language: t.language, params } };
  await act(() => api("POST", "/api/tickets/" + encodeURIComponent(state.current.id) + "/reply", body));
}

// Chat view ----------------------------------------------------------------------------------
async function openChat(id) {
  const r = await act(() => api("GET", "/api/tickets/" + encodeURIComponent(id)));
  if (!r) return;
  state.current = r.ticket;
  state.lines = new Map();
  $("chat").hidden = false; $("empty").hidden = true;
  clear($("transcript"));
  r.transcript.forEach(addLine);
  state.windowUntil = r.window.open ? Date.now() + r.window.seconds_left * 1000 : 0;
  renderContext(r.ticket);
  renderChatHead();
  renderLists();
}

function closeChat() {
  state.current = null;
  $("chat").hidden = true; $("empty").hidden = false;
}

function renderChatHead() {
  const t = state.current;
  $("chat-name").textContent = t.name || t.wa_id;
  $("chat-meta").textContent = "+" + t.wa_id + " · " + t.status + (t.agent ? " · " + t.agent : "") + " · " + t.reason;
  const mine = t.status === "assigned" && t.agent === state.me.id;
  const boss = state.me.role !== "agent";
  $("claim").hidden = !(t.status === "queued" || t.status === "timed_out");
  $("transfer").hidden = $("transfer-to").hidden = !(t.status === "assigned" && (mine || boss));
  $("resolve").hidden = !((t.status === "assigned" && (mine || boss)) || (t.status === "queued" && boss));
  const open = state.windowUntil > Date.now();
  $("composer").hidden = !mine || !open;
  $("template-form").hidden = !mine || open;
  renderWindow();
}

function renderWindow() {
  if (!state.current) return;
  const left = (state.windowUntil - Date.now()) / 1000;
  $("window").textContent = left > 0 ? "window " + duration(left) : "window closed";
  $("window").className = "pill " + (left > 0 ? (left < 3600 ? "warn" : "ok") : "off");
}

function renderContext(t) {
  const list = $("context-list");
  clear(list);
  const ctx = t.context || {};
  const rows = [["Reason", t.reason], ["Last intent", ctx.last_intent]];
  for (const [k, v] of Object.entries(ctx.slots || {})) rows.push([k, typeof v === "string" ? v : JSON.stringify(v)]);
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === "") continue;
    list.appendChild(el("dt", { text: k }));
    list.appendChild(el("dd", { text: v }));
  }
}

function addLine(line) {
  const existing = state.lines.get(line.id);
  const tick = TICKS[line.status] || "";
  const node = el("li", { class: "line " + line.direction + " " + (line.by || "").split(":")[0], "data-line-id": line.id },
    el("span", { class: "who", text: line.by }),
    el("span", { class: "text", text: line.text }),
    el("span", { class: "meta" },
      el("time", { text: line.at ? new Date(line.at).toLocaleTimeString() : "" }),
      el("span", { class: "tick " + (line.status || ""), title: line.status || "", text: tick })),
    line.errors && line.errors.length ? el("span", { class: "line-error", text: line.errors.map((e) => e.title + (e.details ? ": " + e.details : "")).join("; ") }) : null);
  if (existing) existing.replaceWith(node); else $("transcript").appendChild(node);
  state.lines.set(line.id, node);
  node.scrollIntoView({ block: "end" });
  if (line.direction === "in" && state.current) state.windowUntil = Date.now() + 24 * 3600 * 1000;
}

function setStatus(wamid, status) {
  const node = state.lines.get(wamid);
  if (!node) return;
  const tick = node.querySelector(".tick");
  const order = ["", "sent", "delivered", "read", "failed"];
  if (order.indexOf(status) <= order.indexOf(tick.title)) return;
  tick.title = status; tick.className = "tick " + status; tick.textContent = TICKS[status] || "";
}

// Live feed ----------------------------------------------------------------------------------
function connect() {
  const proto = location.protocol === "https:" ? "wss://" : "ws://";
  const url = proto + location.host + "/api/live" + (state.lastId ? "?last_id=" + encodeURIComponent(state.lastId) : "");
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.onmessage = (msg) => onFrame(JSON.parse(msg.data));
  socket.onopen = () => { state.retry = 500; };
  socket.onclose = () => {
    $("connection").textContent = "reconnecting"; $("connection").className = "pill off";
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
  };
}

function onFrame(frame) {
  if (frame.type === "hello") {
    $("connection").textContent = "live"; $("connection").className = "pill ok";
    if (!state.lastId) { state.lastId = frame.id; loadTickets().catch((e) => showError(e.message)); }
    return;
  }
  if (frame.type === "reset") { state.lastId = ""; state.tickets.clear(); loadTickets(); return; }
  if (frame.type === "ping") return;
  if (frame.id) state.lastId = frame.id;
  if (frame.type === "ticket") { upsertTicket(frame.data); renderLists(); return; }
  if (frame.type === "message" && state.current && frame.data.wa_id === state.current.wa_id) {
    if (frame.data.kind === "line") addLine(frame.data.line);
    else setStatus(frame.data.wamid, frame.data.status);
    renderChatHead();
  }
}

// Start --------------------------------------------------------------------------------------
async function start() {
  const me = await api("GET", "/api/me");
  state.me = me.agent;
  $("me").textContent = state.me.name + " (" + state.me.role + ")";
  $("analytics-link").hidden = state.me.role === "agent";
  const [agents, canned] = await Promise.all([api("GET", "/api/agents"), api("GET", "/api/canned")]);
  const select = $("transfer-to");
  select.appendChild(el("option", { value: "", text: "Back to the queue" }));
  agents.agents.filter((a) => a.id !== state.me.id).forEach((a) =>
    select.appendChild(el("option", { value: a.id, text: a.name + (a.online ? " ●" : "") })));
  canned.canned.forEach((c) => $("canned").appendChild(el("option", { value: c.text, text: c.title })));
  api("GET", "/api/templates").then((r) => {
    state.templates = r.templates;
    r.templates.forEach((t, i) => $("template").appendChild(el("option", { value: String(i), text: t.name + " (" + t.language + ")" })));
    renderTemplateVars();
  }).catch((e) => showError("Templates unavailable: " + e.message));
  connect();
  setInterval(() => {
    document.querySelectorAll(".wait").forEach((n) => { n.textContent = duration((Date.now() - Number(n.dataset.since)) / 1000); });
    if (state.current) renderChatHead();
  }, 1000);
}

function renderTemplateVars() {
  const t = state.templates[Number($("template").value)];
  const box = $("template-vars");
  clear(box);
  if (!t) return;
  $("template-preview").textContent = t.body;
  t.variables.forEach((v) => box.appendChild(el("input", { placeholder: "{{" + v + "}}", "aria-label": "variable " + v })));
}

$("claim").addEventListener("click", () => claim(state.current.id));
$("transfer").addEventListener("click", transfer);
$("resolve").addEventListener("click", resolve);
$("composer").addEventListener("submit", sendText);
$("template-form").addEventListener("submit", sendTemplate);
$("template").addEventListener("change", renderTemplateVars);
$("canned").addEventListener("change", () => { if ($("canned").value) $("composer-text").value = $("canned").value; $("canned").value = ""; });
$("logout").addEventListener("click", async () => { await act(() => api("POST", "/api/logout")); location.href = "/login"; });
start().catch((err) => showError(err.message));

"use strict";
// Marketer console: plain DOM, every server value inserted with textContent (never innerHTML).
const $ = (id) => document.getElementById(id);
const el = (tag, text, attrs) => {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  return node;
};
// The session cookie is HttpOnly; its CSRF token (parley_csrf, set at login by handoff) is
// echoed in X-CSRF-Token on every write (double submit).
function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)parley_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}
async function api(method, path, body, raw) {
  const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrfToken();
  if (raw !== undefined) { opts.body = raw; opts.headers["Content-Type"] = "text/csv"; }
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, opts);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) { location.href = "/login"; }  // -> handoff's login, then back here
  if (!response.ok) throw new Error(data.message || data.error || response.statusText);
  return data;
}
function report(error) { alert(error.message || String(error)); }

// Contacts ---------------------------------------------------------------------------------
$("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("csv").files[0];
  if (!file) return;
  try {
    const { job, total_bytes } = await api("POST", "/api/contacts/import", undefined, file);
    const bar = $("import-progress");
    bar.hidden = false; bar.max = total_bytes || 1;
    const poll = async () => {
      const s = await api("GET", `/api/imports/${encodeURIComponent(job)}`);
      bar.value = s.bytes_read || 0;
      $("import-status").textContent = `${s.rows || 0} rows: ${s.inserted || 0} new, ${s.updated || 0} updated, ` +
        `${s.unchanged || 0} unchanged, ${s.failed || 0} rejected (${s.state})`;
      const list = $("import-errors"); list.replaceChildren();
      (s.errors || []).slice(0, 50).forEach((e) => list.append(el("li", `line ${e.line}: ${e.reason}`)));
      if (s.state === "running") setTimeout(poll, 500); else { bar.value = bar.max; loadContacts(); }
    };
    poll();
  } catch (error) { report(error); }
});
async function loadContacts() {
  const data = await api("GET", "/api/contacts?limit=1");
  $("contact-total").textContent = `${data.total} contacts`;
}

// Segments -------------------------------------------------------------------------------
let schema = [];
const OPS = { string: ["eq", "ne", "exists"], number: ["range", "eq", "gte", "lte", "exists"],
  boolean: ["eq", "exists"], date: ["range", "gte", "lte", "exists"], enum: ["eq", "ne", "in", "exists"] };
function addCondition() {
  const row = el("div", null, { class: "condition" });
  const field = el("select");
  [...schema.map((a) => ["attr:" + a.name, a.name]), ["consent", "marketing consent"], ["tags", "tags (any of)"],
    ["inbound", "replied within days"]].forEach(([v, t]) => field.append(el("option", t, { value: v })));
  const op = el("select"); const value = el("input", null, { placeholder: "value" });
  const value2 = el("input", null, { placeholder: "to", size: "5" });
  const remove = el("button", "×", { type: "button" });
  const refreshOps = () => {
    op.replaceChildren();
    const [kind, name] = field.value.split(":");
    const attr = schema.find((a) => a.name === name);
    const ops = kind === "attr" ? OPS[attr.type] : ["eq"];
    ops.forEach((o) => op.append(el("option", o, { value: o })));
    value2.hidden = op.value !== "range";
  };
  field.addEventListener("change", () => { refreshOps(); recount(); });
  op.addEventListener("change", () => { value2.hidden = op.value !== "range"; recount(); });
  [value, value2].forEach((i) => i.addEventListener("input", recount));
  remove.addEventListener("click", () => { row.remove(); recount(); });
  row.append(field, op, value, value2, remove);
  row.toFilter = () => {
    const [kind, name] = field.value.split(":");
    if (kind === "consent") return { consent: "marketing", value: value.value || "opted_in" };
    if (kind === "tags") return { tags: "any", values: value.value.split(",").map((s) => s.trim()).filter(Boolean) };
    if (kind === "inbound") return { inbound_within_days: Number(value.value || 7) };
    if (op.value === "exists") return { attr: name, op: "exists", value: value.value !== "false" };
    if (op.value === "range") return { attr: name, op: "range", gte: value.value || null, lte: value2.value || null };
    if (op.value === "in") return { attr: name, op: "in", value: value.value.split(",").map((s) => s.trim()) };
    return { attr: name, op: op.value, value: value.value };
  };
  $("conditions").append(row); refreshOps();
}
function currentFilter() { return { all: [...$("conditions").children].map((r) => r.toFilter()) }; }
let countTimer = null;
function recount() {
  clearTimeout(countTimer);
  countTimer = setTimeout(async () => {
    try { $("segment-count").textContent = (await api("POST", "/api/segments/count", { filter: currentFilter() })).count; }
    catch (error) { $("segment-count").textContent = error.message; }
  }, 250);
}
$("add-condition").addEventListener("click", addCondition);
$("save-segment").addEventListener("click", async () => {
  try { await api("POST", "/api/segments", { name: $("segment-name").value, filter: currentFilter() }); loadSegments(); }
  catch (error) { report(error); }
});
async function loadSegments() {
  const { segments } = await api("GET", "/api/segments");
  $("segment-list").replaceChildren(...segments.map((s) => el("li", `${s.name} (${s._id})`)));
  $("campaign-segment").replaceChildren(el("option", "everyone", { value: "" }),
    ...segments.map((s) => el("option", s.name, { value: s._id })));
}

// Templates --------------------------------------------------------------------------------
async function loadTemplates() {
  const { templates } = await api("GET", "/api/templates");
  $("template-rows").replaceChildren(...templates.map((t) => {
    const tr = el("tr");
    [t.name, t.language, t.category, t.status, (t.variables || []).join(", ")].forEach((v) => tr.append(el("td", v)));
    return tr;
  }));
  $("campaign-template").replaceChildren(...templates.filter((t) => t.status === "APPROVED")
    .map((t) => el("option", `${t.name} (${t.language}, ${t.category})`, { value: t._id })));
}
$("sync-templates").addEventListener("click", () => api("POST", "/api/templates/sync").then(loadTemplates, report));

// Campaigns --------------------------------------------------------------------------------
$("campaign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = new FormData(event.target);
  try {
    const spec = { name: f.get("name"), template_id: f.get("template_id"), rate: Number(f.get("rate")),
      variables: JSON.parse(f.get("variables") || "{}"),
      segment: f.get("segment_id") ? { segment_id: f.get("segment_id") } : { filter: {} } };
    const campaign = await api("POST", "/api/campaigns", spec);
    await loadCampaigns(); openCampaign(campaign._id);
  } catch (error) { report(error); }
});
async function loadCampaigns() {
  const { campaigns } = await api("GET", "/api/campaigns");
  $("campaign-rows").replaceChildren(...campaigns.map((c) => {
    const tr = el("tr");
    tr.append(el("td", c.name || c._id), el("td", c.state), el("td", (c.stats || {}).audience || ""));
    const actions = el("td");
    const open = el("button", "open", { type: "button" });
    open.addEventListener("click", () => openCampaign(c._id));
    actions.append(open);
    ["start", "pause", "resume", "cancel", "retry-failed"].forEach((a) => {
      const b = el("button", a, { type: "button" });
      b.addEventListener("click", () => api("POST", `/api/campaigns/${encodeURIComponent(c._id)}/${a}`)
        .then(loadCampaigns, report));
      actions.append(b);
    });
    tr.append(actions);
    return tr;
  }));
}
let openId = null; let liveTimer = null;
async function openCampaign(id) {
  openId = id; $("campaign-detail").hidden = false; $("detail-title").textContent = id;
  try { $("preflight").textContent = JSON.stringify(await api("POST", `/api/campaigns/${encodeURIComponent(id)}/preflight`), null, 2); }
  catch (error) { $("preflight").textContent = error.message; }
  clearInterval(liveTimer); refreshLive(); liveTimer = setInterval(refreshLive, 2000);
}
$("schedule-btn").addEventListener("click", async () => {
  const local = $("schedule-at").value;
  if (!openId || !local) return;
  const schedule = { at: local, timezone: $("schedule-tz").value,
    window: { start: $("window-start").value, end: $("window-end").value } };
  api("POST", `/api/campaigns/${encodeURIComponent(openId)}/schedule`, { schedule }).then(loadCampaigns, report);
});
async function refreshLive() {
  if (!openId) return;
  const a = await api("GET", `/api/campaigns/${encodeURIComponent(openId)}/analytics`);
  $("detail-title").textContent = `${openId}: ${a.state}`;
  const top = Math.max(a.audience || 0, a.counts.sent || 0, 1);
  $("funnel").replaceChildren(...["sent", "delivered", "read", "replied", "failed"].map((k) => {
    const wrap = el("div");
    const bar = el("div", `${k}: ${a.counts[k] || 0}`, { class: "bar" });
    bar.style.width = `${Math.max(2, 100 * (a.counts[k] || 0) / top)}%`;
    wrap.append(bar);
    return wrap;
  }));
  $("failures").replaceChildren(...(a.failure_reasons || []).map((f) => el("li", `${f.code}: ${f.title} × ${f.count}`)));
}

(async () => {
  try {
    schema = (await api("GET", "/api/schema")).attributes;
    await Promise.all([loadContacts(), loadSegments(), loadTemplates(), loadCampaigns()]);
  } catch (error) { report(error); }
})();

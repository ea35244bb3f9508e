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
  if (response.status === 401) {  // -> handoff's login, then back here; the caller never resumes
    location.href = "/login";
    return new Promise(() => {});
  }
  if (!response.ok) throw new Error(data.message || data.error || response.statusText);
  return data;
}
// Errors go to the banner (as text), like the agent console; a click dismisses it.
function report(error) {
  const box = $("error");
  box.textContent = error.message || String(error);
  box.hidden = false;
}
$("error").addEventListener("click", () => { $("error").hidden = true; });
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); location.href = "/login"; } catch (error) { report(error); }
});

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
      try {
        const s = await api("GET", `/api/imports/${encodeURIComponent(job)}`);
        bar.value = s.bytes_read || 0;
        $("import-status").textContent = `${s.rows || 0} rows: ${s.inserted || 0} new, ${s.updated || 0} updated, ` +
          `${s.unchanged || 0} unchanged, ${s.failed || 0} rejected (${s.state}${s.error ? ": " + s.error : ""})`;
        $("import-errors").replaceChildren(...(s.errors || []).slice(0, 50)
          .map((e) => el("li", `line ${e.line}: ${e.reason}`)));
        if (s.state === "running") setTimeout(poll, 500);
        else { bar.value = bar.max; await loadContacts(); recount(); }
      } catch (error) { report(error); }
    };
    poll();
  } catch (error) { report(error); }
});
const CONTACT_ROWS = 20;
async function loadContacts() {
  const data = await api("GET", `/api/contacts?limit=${CONTACT_ROWS}`);
  $("contact-total").textContent = data.total > CONTACT_ROWS ?
    `${data.total} contacts (first ${CONTACT_ROWS} shown)` : `${data.total} contacts`;
  $("contact-rows").replaceChildren(...data.contacts.map((c) => {
    const tr = el("tr");
    const consent = ((c.consent || {}).marketing || {}).state || "none";
    [c.name || "", c.phone, (c.tags || []).join(", "), consent].forEach((v) => tr.append(el("td", v)));
    return tr;
  }));
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
$("sync-templates").addEventListener("click", () => api("POST", "/api/templates/sync").then(loadTemplates).catch(report));

// Campaigns --------------------------------------------------------------------------------
$("campaign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = new FormData(event.target);
  try {
    const spec = { name: f.get("name"), template_id: f.get("template_id"), rate: Number(f.get("rate")),
      variables: JSON.parse(f.get("variables") || "{}"),
      segment: f.get("segment_id") ? { segment_id: f.get("segment_id") } : { filter: {} } };
    const campaign = await api("POST", "/api/campaigns", spec);
    await loadCampaigns(); await openCampaign(campaign._id);
  } catch (error) { report(error); }
});
const campaignNames = new Map();
async function loadCampaigns() {
  const { campaigns } = await api("GET", "/api/campaigns");
  campaigns.forEach((c) => campaignNames.set(c._id, c.name || c._id));
  $("campaign-rows").replaceChildren(...campaigns.map((c) => {
    const tr = el("tr", null, { "data-campaign-id": c._id });
    tr.append(el("td", c.name || c._id), el("td", c.state, { class: "state" }),
      el("td", (c.stats || {}).audience ?? ""));
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
// The live campaign page: pre-flight, start/schedule, and the funnel refreshed every 2 s.
let openId = null; let liveTimer = null; let liveState = null;
const campaignPath = (action) => `/api/campaigns/${encodeURIComponent(openId)}${action ? "/" + action : ""}`;
async function openCampaign(id) {
  openId = id; liveState = null; $("campaign-detail").hidden = false;
  $("detail-title").textContent = campaignNames.get(id) || id;
  $("next-run").textContent = ""; $("funnel").replaceChildren(); $("failures").replaceChildren();
  clearInterval(liveTimer); liveTimer = setInterval(refreshLive, 2000);
  await Promise.all([preflight(), refreshLive()]);
}
function fact(name, value) { return [el("dt", name), el("dd", value)]; }
async function preflight() {
  try {
    const p = await api("POST", campaignPath("preflight"));
    const excluded = Object.entries(p.excluded || {}).map(([reason, n]) => `${reason} × ${n}`).join(", ");
    const categories = Object.entries(p.by_category || {}).map(([c, n]) => `${c} × ${n}`).join(", ");
    $("preflight").replaceChildren(...fact("Audience", p.audience), ...fact("Eligible", p.eligible),
      ...fact("Excluded", excluded || "none"), ...fact("By category", categories || "–"),
      ...fact("Estimated cost", `${p.estimated_cost} ${p.currency}`),
      ...fact("Estimated duration", `${p.estimated_duration_seconds} s`));
  } catch (error) { $("preflight").replaceChildren(...fact("Pre-flight", error.message)); }
}
$("preflight-btn").addEventListener("click", preflight);
$("start-btn").addEventListener("click", async () => {
  try { await api("POST", campaignPath("start")); await Promise.all([loadCampaigns(), refreshLive()]); }
  catch (error) { report(error); }
});
$("schedule-btn").addEventListener("click", async () => {
  const local = $("schedule-at").value;
  if (!openId || !local) { report(new Error("pick the date and time to send at")); return; }
  const schedule = { at: local, timezone: $("schedule-tz").value || "UTC" };
  if ($("window-start").value || $("window-end").value) {  // no window unless one is given
    schedule.window = { start: $("window-start").value, end: $("window-end").value };
  }
  try {
    await api("POST", campaignPath("schedule"), { schedule });
    const doc = await api("GET", campaignPath());
    $("next-run").textContent = doc.next_run ? `next run ${doc.next_run}` : "";
    await Promise.all([loadCampaigns(), refreshLive()]);
  } catch (error) { report(error); }
});
const FUNNEL = ["sent", "delivered", "read", "replied"];
function funnelStep(name, count, top, rate) {
  const bar = el("div", null, { class: "bar" });
  bar.style.width = `${Math.max(1, 100 * count / top)}%`;
  const track = el("div", null, { class: "track" }); track.append(bar);
  const row = el("div", null, { class: "step", "data-step": name });
  row.append(el("span", name, { class: "label" }), track, el("span", count, { class: "value" }),
    el("span", rate === undefined ? "" : `${Math.round(100 * rate)}%`, { class: "rate muted" }));
  return row;
}
async function refreshLive() {
  if (!openId) return;
  const id = openId;
  let a;
  try { a = await api("GET", campaignPath("analytics")); } catch (error) { report(error); return; }
  if (id !== openId) return;  // another campaign was opened meanwhile
  $("detail-title").textContent = `${campaignNames.get(id) || id}: ${a.state}`;
  if (liveState !== null && liveState !== a.state) loadCampaigns().catch(report);
  liveState = a.state;
  const top = Math.max(a.audience || 0, a.counts.sent || 0, 1);
  $("funnel").replaceChildren(el("div", `audience ${a.audience}`, { class: "muted" }),
    ...FUNNEL.map((k) => funnelStep(k, a.counts[k] || 0, top, k === "sent" ? undefined : a.rates[k])),
    funnelStep("failed", a.counts.failed || 0, top, a.rates.failed));
  $("failures").replaceChildren(...(a.failure_reasons || []).map((f) => el("li", `${f.code}: ${f.title} × ${f.count}`)));
}

(async () => {
  try {
    schema = (await api("GET", "/api/schema")).attributes;
    await Promise.all([loadContacts(), loadSegments(), loadTemplates(), loadCampaigns()]);
    recount();  // the audience of the (empty) builder: everyone
  } catch (error) { report(error); }
})();

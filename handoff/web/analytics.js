"use strict";
function fmt(v) { return v === null || v === undefined ? "–" : (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v)); }
function pct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + " %"; }

function table(node, columns, rows) {
  clear(node);
  node.appendChild(el("tr", {}, ...columns.map(([title]) => el("th", { text: title }))));
  for (const row of rows) {
    node.appendChild(el("tr", {}, ...columns.map(([, key, f]) => el("td", { text: (f || fmt)(row[key]) }))));
  }
}

async function load() {
  showError("");
  try {
    const days = document.getElementById("days").value;
    const r = await api("GET", "/api/analytics?days=" + encodeURIComponent(days));
    const totals = document.getElementById("totals");
    clear(totals);
    for (const [k, v] of Object.entries(r.totals)) {
      totals.appendChild(el("dt", { text: k.replace(/_/g, " ") }));
      totals.appendChild(el("dd", { text: k === "deflection_rate" ? pct(v) : fmt(v) }));
    }
    const times = [["avg queue (s)", "avg_queue_s"], ["avg first reply (s)", "avg_first_reply_s"], ["avg handling (s)", "avg_handling_s"]];
    table(document.getElementById("days-table"), [["day", "day"], ["conversations", "conversations"], ["handoffs", "requested"],
      ["resolved", "resolved"], ["timed out", "timed_out"], ...times, ["deflection", "deflection_rate", pct]], r.days);
    table(document.getElementById("agents-table"), [["agent", "agent"], ["tickets", "assigned"], ["resolved", "resolved"], ...times], r.agents);
    table(document.getElementById("reasons-table"), [["reason", "reason"], ["count", "count"]], r.reasons);
  } catch (err) { showError(err.message); }
}
document.getElementById("days").addEventListener("change", load);
load();

// Virtual phones of the Parley sandbox. Every string from the server is shown with
// textContent and built with createElement: data is never parsed as HTML.
"use strict";

const POLL_MS = 800;
const state = { selected: null, customersVersion: -1, conversationKey: "", lastBusinessWamid: null };

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function showError(message) {
  $("error").textContent = message || "";
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || ("HTTP " + response.status);
    throw new Error(message);
  }
  return data;
}

function customerSends(message) {
  if (!state.selected) return Promise.resolve();
  return api("POST", "/_sandbox/customers/" + encodeURIComponent(state.selected) + "/messages", message)
    .then(() => { showError(""); return refresh(true); })
    .catch((err) => showError(err.message));
}

// ---- customers list -------------------------------------------------------------------

function renderCustomers(data) {
  const list = $("customers");
  list.replaceChildren();
  for (const customer of data.customers) {
    const item = el("li", customer.wa_id === state.selected ? "selected" : "");
    item.dataset.waId = customer.wa_id;
    item.appendChild(el("strong", "", customer.name));
    const window = customer.window_open ? "window open" : "window closed";
    item.appendChild(el("small", "", customer.wa_id + " · " + customer.messages + " messages · " + window));
    item.addEventListener("click", () => select(customer.wa_id));
    list.appendChild(item);
  }
}

function select(waId) {
  state.selected = waId;
  state.conversationKey = "";
  $("phone").hidden = false;
  $("empty").hidden = true;
  refresh(true);
}

// ---- conversation ----------------------------------------------------------------------

const TICKS = { accepted: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠" };

function time(at) {
  return new Date(at * 1000).toLocaleTimeString();
}

function replyButton(title, onClick) {
  const button = el("button", "", title);
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

function renderOutbound(message) {
  const view = message.view;
  const bubble = el("li", "msg out");
  bubble.dataset.wamid = message.wamid;
  if (view.template) bubble.appendChild(el("div", "template-name", "template " + view.template + " (" + view.language + ")"));
  if (view.header) bubble.appendChild(el("div", "header", view.header));
  if (view.text) bubble.appendChild(el("div", "body", view.text));
  if (view.media) {
    const media = view.media;
    const label = "[" + media.kind + "] " + (media.filename || media.link || ("media " + media.id));
    bubble.appendChild(el("div", "media", label));
    if (media.caption) bubble.appendChild(el("div", "caption", media.caption));
  }
  if (view.reaction) bubble.appendChild(el("div", "reaction", "reacted " + (view.reaction.emoji || "(removed)")));
  if (view.link) bubble.appendChild(el("div", "link", "🔗 " + view.link.display_text + " → " + view.link.url));
  if (view.footer) bubble.appendChild(el("div", "footer", view.footer));
  if (view.buttons) {
    const actions = el("div", "actions");
    for (const button of view.buttons) {
      if (button.reply === "button_reply") {
        actions.appendChild(replyButton(button.title, () => customerSends({
          type: "interactive",
          interactive: { type: "button_reply", button_reply: { id: button.id, title: button.title } },
          context: { id: message.wamid },
        })));
      } else if (button.reply === "button") {
        actions.appendChild(replyButton(button.title, () => customerSends({
          type: "button", button: { payload: button.id, text: button.title }, context: { id: message.wamid },
        })));
      } else {
        const inert = replyButton(button.title, () => {});
        inert.disabled = true;
        actions.appendChild(inert);
      }
    }
    bubble.appendChild(actions);
  }
  if (view.list) bubble.appendChild(renderList(view.list, message.wamid));
  const ticks = el("span", "ticks " + message.status, TICKS[message.status] || message.status);
  const meta = el("div", "meta", time(message.at) + " ");
  meta.appendChild(ticks);
  if (message.status === "failed" && message.errors.length) {
    meta.appendChild(el("span", "", " " + message.errors[0].code + " " + message.errors[0].title));
  }
  bubble.appendChild(meta);
  return bubble;
}

function renderList(list, wamid) {
  const box = el("div", "actions");
  const rows = el("div", "list-rows");
  rows.hidden = true;
  const toggle = replyButton("☰ " + list.button, () => { rows.hidden = !rows.hidden; });
  box.appendChild(toggle);
  for (const section of list.sections) {
    if (section.title) rows.appendChild(el("div", "section", section.title));
    for (const row of section.rows) {
      const label = row.description ? row.title + " — " + row.description : row.title;
      rows.appendChild(replyButton(label, () => {
        const reply = { id: row.id, title: row.title };
        if (row.description) reply.description = row.description;
        customerSends({ type: "interactive", interactive: { type: "list_reply", list_reply: reply }, context: { id: wamid } });
      }));
    }
  }
  box.appendChild(rows);
  return box;
}

function renderInbound(message) {
  const bubble = el("li", "msg in");
  bubble.dataset.wamid = message.wamid;
  if (message.view.reply_to) bubble.appendChild(el("div", "reply-to", "↩ reply"));
  bubble.appendChild(el("div", "body", message.view.text));
  const meta = el("div", "meta", time(message.at) + " ");
  meta.appendChild(el("span", "ticks " + (message.read ? "read" : "delivered"), message.read ? "✓✓ read by business" : "✓✓"));
  bubble.appendChild(meta);
  return bubble;
}

function renderConversation(data) {
  $("phone-name").textContent = data.name;
  $("phone-wa-id").textContent = "+" + data.wa_id;
  const badge = $("window-badge");
  badge.textContent = data.window_open ? "24h window open" : "window closed";
  badge.className = data.window_open ? "" : "closed";
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  state.lastBusinessWamid = null;
  let typing = false;
  for (const message of data.messages) {
    if (message.direction === "out") {
      list.appendChild(renderOutbound(message));
      state.lastBusinessWamid = message.wamid;
      typing = false;
    } else {
      list.appendChild(renderInbound(message));
      typing = Boolean(message.typing);
    }
  }
  if (typing) list.appendChild(el("li", "msg out typing", "typing…"));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function refresh(force) {
  try {
    const customers = await api("GET", "/_sandbox/customers");
    if (force || customers.version !== state.customersVersion) {
      state.customersVersion = customers.version;
      renderCustomers(customers);
    }
    if (state.selected) {
      const data = await api("GET", "/_sandbox/customers/" + encodeURIComponent(state.selected) + "/conversation");
      const key = data.version + ":" + data.messages.length + ":" + data.window_open;
      if (force || key !== state.conversationKey) {
        state.conversationKey = key;
        renderConversation(data);
      }
    }
  } catch (err) {
    showError(err.message);
  }
}

// ---- composer --------------------------------------------------------------------------

function composedMessage(kind, text) {
  switch (kind) {
    case "text": return text ? { type: "text", text: { body: text } } : null;
    case "image": return { type: "image", image: text ? { caption: text } : {} };
    case "document": return { type: "document", document: { filename: (text || "document") + ".pdf" } };
    case "audio": return { type: "audio", audio: { voice: true } };
    case "location": return { type: "location", location: { latitude: 38.7223, longitude: -9.1393, name: text || "Here" } };
    case "contacts": return { type: "contacts", contacts: [{ name: { formatted_name: text || "Friend", first_name: text || "Friend" },
      phones: [{ phone: "+1 555 0100", type: "CELL" }] }] };
    case "reaction":
      if (!state.lastBusinessWamid) { showError("no business message to react to"); return null; }
      return { type: "reaction", reaction: { message_id: state.lastBusinessWamid, emoji: text || "👍" } };
    default: return null;
  }
}

function setup() {
  $("new-customer").addEventListener("submit", (event) => {
    event.preventDefault();
    const waId = $("new-wa-id").value.trim().replace(/^\+/, "");
    const name = $("new-name").value.trim();
    api("POST", "/_sandbox/customers", name ? { wa_id: waId, name } : { wa_id: waId })
      .then((customer) => { $("new-wa-id").value = ""; $("new-name").value = ""; showError(""); select(customer.wa_id); })
      .catch((err) => showError(err.message));
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = composedMessage($("compose-type").value, $("compose-text").value.trim());
    if (!message) return;
    customerSends(message).then(() => { $("compose-text").value = ""; });
  });
  const preference = (value) => () => api("POST", "/_sandbox/customers/" + encodeURIComponent(state.selected) + "/preferences", { value })
    .then(() => showError("")).catch((err) => showError(err.message));
  $("stop-marketing").addEventListener("click", preference("stop"));
  $("resume-marketing").addEventListener("click", preference("resume"));
  $("phone").hidden = true;
  refresh(true);
  setInterval(() => refresh(false), POLL_MS);
}

setup();

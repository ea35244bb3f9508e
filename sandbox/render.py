"""What a virtual phone shows: plain-dict views of conversation entries (no HTML here).

The phone page draws these with ``textContent`` only. Templates are rendered with the
parameters of the send (positional ``{{1}}`` or named ``{{first_name}}``); reply buttons and
template quick replies carry what a tap injects back (``button_reply`` / ``button``).
"""
from __future__ import annotations

import re
from typing import Any

from .store import ConversationEntry, Customer, InboundMessage, OutboundMessage

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def conversation(customer: Customer, window_open: bool, version: int) -> dict[str, Any]:
    return {
        "wa_id": customer.wa_id, "name": customer.name, "window_open": window_open, "version": version,
        "messages": [entry_view(entry) for entry in customer.conversation],
    }


def entry_view(entry: ConversationEntry) -> dict[str, Any]:
    if isinstance(entry, InboundMessage):
        return {"direction": "in", "wamid": entry.wamid, "type": entry.type, "at": entry.at,
                "read": entry.read, "typing": entry.typing, "view": inbound_view(entry.message)}
    return {"direction": "out", "wamid": entry.wamid, "type": entry.type, "at": entry.at,
            "status": entry.status, "errors": entry.errors, "view": outbound_view(entry)}


def inbound_view(message: dict[str, Any]) -> dict[str, Any]:
    kind = message.get("type", "")
    body = message.get(kind)
    text = ""
    if kind == "text":
        text = body.get("body", "")
    elif kind == "button":
        text = body.get("text", "")
    elif kind == "interactive":
        reply = body.get(body.get("type", ""), {})
        text = reply.get("title") or reply.get("body") or ""
    elif kind in ("image", "video", "audio", "document", "sticker"):
        text = f"[{kind}] {body.get('caption') or body.get('filename') or ''}".strip()
    elif kind == "location":
        text = f"[location] {body.get('name') or ''} {body.get('latitude')},{body.get('longitude')}".strip()
    elif kind == "reaction":
        text = f"[reaction] {body.get('emoji', '')}"
    elif kind == "contacts":
        names = [card.get("name", {}).get("formatted_name", "?") for card in message.get("contacts", [])]
        text = "[contacts] " + ", ".join(names)
    else:
        text = f"[{kind}]"
    return {"text": text, "reply_to": (message.get("context") or {}).get("id")}


def outbound_view(message: OutboundMessage) -> dict[str, Any]:
    payload = message.payload
    kind = message.type
    body = payload.get(kind)
    view: dict[str, Any] = {"reply_to": (payload.get("context") or {}).get("message_id")}
    if kind == "text":
        view["text"] = body["body"]
    elif kind in ("image", "video", "audio", "document", "sticker"):
        view["media"] = {"kind": kind, "link": body.get("link"), "id": body.get("id"),
                         "caption": body.get("caption"), "filename": body.get("filename")}
    elif kind == "location":
        view["text"] = f"📍 {body.get('name') or ''} {body.get('address') or ''} ({body['latitude']}, {body['longitude']})"
    elif kind == "contacts":
        view["text"] = "👤 " + ", ".join(card["name"]["formatted_name"] for card in payload["contacts"])
    elif kind == "reaction":
        view["reaction"] = {"message_id": body["message_id"], "emoji": body.get("emoji", "")}
    elif kind == "interactive":
        view.update(_interactive(body))
    elif kind == "template":
        view.update(_template(message, body))
    return view


def _interactive(body: dict[str, Any]) -> dict[str, Any]:
    header = body.get("header") or {}
    view: dict[str, Any] = {
        "header": header.get("text") or (f"[{header['type']}]" if header.get("type") else None),
        "text": body["body"]["text"], "footer": (body.get("footer") or {}).get("text"),
    }
    action = body["action"]
    if body["type"] == "button":
        view["buttons"] = [{"id": b["reply"]["id"], "title": b["reply"]["title"], "reply": "button_reply"}
                           for b in action["buttons"]]
    elif body["type"] == "list":
        view["list"] = {"button": action["button"], "sections": [
            {"title": section.get("title"), "rows": [
                {"id": row["id"], "title": row["title"], "description": row.get("description")}
                for row in section["rows"]]}
            for section in action["sections"]]}
    elif body["type"] == "cta_url":
        view["link"] = dict(action["parameters"])
    return view


def _template(message: OutboundMessage, body: dict[str, Any]) -> dict[str, Any]:
    sent = {"header": [], "body": []}
    payloads: dict[int, str] = {}
    for component in body.get("components", []):
        kind = str(component.get("type", "")).lower()
        if kind in sent:
            sent[kind] = list(component.get("parameters", []))
        elif kind == "button":
            for parameter in component.get("parameters", []):
                if parameter.get("type") == "payload":
                    payloads[int(component.get("index", 0))] = str(parameter.get("payload", ""))
    view: dict[str, Any] = {"template": body["name"], "language": body["language"]["code"]}
    for component in message.template_components or []:
        kind = component["type"]
        if kind == "HEADER":
            view["header"] = _fill(component.get("text", f"[{component.get('format', '').lower()}]"),
                                   sent["header"], message.template_named)
        elif kind == "BODY":
            view["text"] = _fill(component.get("text", ""), sent["body"], message.template_named)
        elif kind == "FOOTER":
            view["footer"] = component.get("text")
        elif kind == "BUTTONS":
            view["buttons"] = [
                {"title": button.get("text", ""), "id": payloads.get(index, button.get("text", "")),
                 "reply": "button" if str(button.get("type")).upper() == "QUICK_REPLY" else None}
                for index, button in enumerate(component.get("buttons", []))
            ]
    return view


def _fill(text: str, parameters: list[dict[str, Any]], named: bool) -> str:
    values: dict[str, str] = {}
    for position, parameter in enumerate(parameters, start=1):
        kind = parameter.get("type", "text")
        raw = parameter.get(kind)
        shown = raw if isinstance(raw, str) else (raw or {}).get("fallback_value", "") if isinstance(raw, dict) else ""
        values[str(parameter.get("parameter_name")) if named else str(position)] = str(shown)
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)

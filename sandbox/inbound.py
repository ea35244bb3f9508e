"""Virtual customers: inbound messages and marketing preferences (reference 2 and 8).

``inject_message`` takes one message object in Meta's shape minus ``from``/``id``/
``timestamp`` (plus an optional ``name``), completes it (media ids resolvable through
``GET /{media_id}``, ``context.from``), stores it, opens the 24-hour window and queues the
signed ``messages`` webhook.
"""
from __future__ import annotations

import copy
from typing import Any

from . import envelopes, ids
from .envelopes import Notification
from .errors import AdminError, status_error
from .state import Sandbox
from .store import InboundMessage

MEDIA_MIME = {
    "image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf", "sticker": "image/webp",
}
OBJECT_TYPES = (
    "text", "image", "video", "audio", "document", "sticker", "location", "reaction", "button",
    "interactive", "order", "system", "revoke", "edit",
)
INBOUND_TYPES = (*OBJECT_TYPES, "contacts", "unsupported")
#: System notices are not user messages, so they do not open the window.
NO_WINDOW = ("system", "unsupported")


def check_wa_id(wa_id: str) -> str:
    digits = wa_id.lstrip("+")
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise AdminError(f"wa_id must be 6 to 15 digits, got {wa_id!r}")
    return digits


def inject_message(sandbox: Sandbox, wa_id: str, body: Any) -> InboundMessage:
    """Make customer ``wa_id`` send ``body``; return the stored message."""
    wa_id = check_wa_id(wa_id)
    if not isinstance(body, dict):
        raise AdminError("body must be one inbound message object, e.g. {\"type\":\"text\",\"text\":{\"body\":\"hi\"}}")
    body = copy.deepcopy(body)
    name = body.pop("name", None)
    if name is not None and (not isinstance(name, str) or len(name) > 256):
        raise AdminError("name must be a string of at most 256 characters")
    kind = body.get("type")
    if kind not in INBOUND_TYPES:
        raise AdminError(f"type must be one of {', '.join(INBOUND_TYPES)}; got {kind!r}")
    for key in ("from", "id", "timestamp"):
        body.pop(key, None)
    now = sandbox.now()
    wamid = ids.wamid(wa_id)
    message: dict[str, Any] = {"from": wa_id, "id": wamid, "timestamp": str(int(now)), "type": kind}
    _fill(sandbox, kind, body, now)
    message.update(body)
    message["type"] = kind
    context = _context(sandbox, body.get("context"))
    if context is not None:
        message["context"] = context
    stored = InboundMessage(wamid, wa_id, kind, message, now)
    customer = sandbox.store.customer(wa_id, now, name)
    sandbox.store.add_inbound(stored, name)
    if kind not in NO_WINDOW:
        sandbox.windows.touch(sandbox.settings.phone_number_id, wa_id, now)
    card = envelopes.contact(wa_id, customer.name)
    sandbox.webhooks.notify(envelopes.messages(sandbox.metadata, message, card))
    return stored


def _fill(sandbox: Sandbox, kind: str, body: dict[str, Any], now: float) -> None:
    if kind == "contacts":
        if not isinstance(body.get("contacts"), list) or not body["contacts"]:
            raise AdminError("contacts must be a non-empty list of contact cards")
        return
    if kind == "unsupported":
        body.setdefault("unsupported", {"type": "unknown"})
        body.setdefault("errors", [status_error(131051)])
        return
    payload = body.get(kind)
    if not isinstance(payload, dict):
        raise AdminError(f"a {kind} message needs a {kind!r} object")
    if kind == "text" and not isinstance(payload.get("body"), str):
        raise AdminError("text.body must be a string")
    if kind == "interactive":
        reply_type = payload.get("type")
        if reply_type not in ("button_reply", "list_reply", "nfm_reply") or not isinstance(payload.get(reply_type), dict):
            raise AdminError("interactive needs type button_reply|list_reply|nfm_reply and that object")
    if kind == "button" and not isinstance(payload.get("payload", payload.get("text")), str):
        raise AdminError("button needs payload and text strings")
    if kind in MEDIA_MIME:
        _media(sandbox, kind, payload, now)


def _media(sandbox: Sandbox, kind: str, payload: dict[str, Any], now: float) -> None:
    """Resolve or create the media object so ``GET /{media_id}`` works for the receiver."""
    media_id = payload.get("id")
    if media_id is not None:
        media = sandbox.store.media.get(str(media_id))
        if media is None:
            raise AdminError(f"unknown media id {media_id!r}; upload it first or omit the id")
    else:
        mime = payload.get("mime_type") if isinstance(payload.get("mime_type"), str) else MEDIA_MIME[kind]
        filename = payload.get("filename") if isinstance(payload.get("filename"), str) else None
        data = f"sandbox placeholder {kind} content".encode()
        media = sandbox.store.add_media(mime, data, filename, now)
    payload["id"] = media.id
    payload["mime_type"] = media.mime_type
    payload["sha256"] = media.sha256_b64
    if kind == "sticker":
        payload.setdefault("animated", False)
    if kind == "audio":
        payload.setdefault("voice", False)


def _context(sandbox: Sandbox, raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise AdminError("context must be an object, e.g. {\"id\": \"wamid...\"}")
    context = dict(raw)
    if "id" in context:
        context.setdefault("from", sandbox.settings.display_phone_number)
    return context


def inject_preferences(sandbox: Sandbox, wa_id: str, body: Any) -> Notification:
    """The customer stops or resumes marketing messages: ``user_preferences`` webhook; 131050 follows."""
    wa_id = check_wa_id(wa_id)
    value = body.get("value") if isinstance(body, dict) else None
    if value not in ("stop", "resume"):
        raise AdminError("value must be \"stop\" or \"resume\"")
    now = sandbox.now()
    customer = sandbox.store.customer(wa_id, now)
    opted_out = set(sandbox.config.marketing_opted_out)
    (opted_out.add if value == "stop" else opted_out.discard)(wa_id)
    sandbox.config.marketing_opted_out = frozenset(opted_out)
    detail = "User requested to stop marketing messages" if value == "stop" else "User requested to resume marketing messages"
    notification = Notification("user_preferences", {
        "messaging_product": "whatsapp",
        "metadata": sandbox.metadata,
        "contacts": [envelopes.contact(wa_id, customer.name)],
        "user_preferences": [{"wa_id": wa_id, "detail": detail, "category": "marketing_messages",
                              "value": value, "timestamp": int(now)}],
    }, time=int(now))
    sandbox.webhooks.notify(notification)
    return notification

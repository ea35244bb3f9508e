"""Translate parsed webhook items into what Parley acts on: bot inputs and internal events.

Framework-free: :class:`BotInput` is a plain value the Rasa channel turns into a ``UserMessage``.

Which inbound types reach the bot (everything is also a ``message.received`` event):

* ``text``: the body, with leading ``/`` (and whitespace) removed: free text never becomes a
  Rasa intent command (``/restart`` from a customer is the text ``restart``).
* ``button`` / ``interactive`` button_reply and list_reply: the payload Parley set on the
  button, verbatim, so ``/intent{...}`` payloads trigger intents; the title goes to metadata.
* ``interactive`` nfm_reply (WhatsApp Flows): the text ``[flow_reply]``, response JSON in metadata.
* media (image, video, audio, document, sticker): the caption (neutralised like text), or, with
  no caption, ``/media_received{"media_type": "image"}`` built by Parley (the bot's intent);
  media id and mime type in metadata.
* ``location``: ``/share_location{"latitude": .., "longitude": ..}`` built by Parley.
* contacts, reaction, order, system, unsupported, revoke, edit, unknown: not sent to the bot.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from . import events, keys
from .dedupe import CLAIM_TTL_S
from .events import Event
from .webhook import (
    MEDIA_TYPES, Echo, InboundMessage, MessageType, Notification, Status, StatusValue,
)

LOCATION_INTENT = "share_location"
MEDIA_INTENT = "media_received"
FLOW_REPLY_TEXT = "[flow_reply]"
EMPTY_TEXT = "[empty]"
_LEADING = re.compile(r"^[\s/]+")
_TAP_KINDS = frozenset({"button", "button_reply", "list_reply"})
_STATUS_EVENTS = {
    StatusValue.SENT: events.MESSAGE_SENT,
    StatusValue.DELIVERED: events.MESSAGE_DELIVERED,
    StatusValue.READ: events.MESSAGE_READ,
    StatusValue.FAILED: events.MESSAGE_FAILED,
    StatusValue.PLAYED: events.MESSAGE_PLAYED,
}
_TEMPLATE_FIELDS = {
    "message_template_status_update": events.TEMPLATE_STATUS_UPDATED,
    "message_template_quality_update": events.TEMPLATE_QUALITY_UPDATED,
    "template_category_update": events.TEMPLATE_CATEGORY_UPDATED,
}
_ACCOUNT_FIELDS = frozenset({"account_update", "phone_number_quality_update", "business_capability_update"})
#: Claims on content-derived ids (no natural id in the webhook) expire sooner.
CONTENT_CLAIM_TTL_S = 24 * 3600


@dataclass(frozen=True)
class BotInput:
    """One message for the bot: the Rasa channel makes it a ``UserMessage``."""

    sender_id: str
    text: str
    message_id: str
    metadata: Dict[str, Any]


def neutralise(text: str) -> str:
    """Free text can never be a Rasa command: drop leading slashes and whitespace."""
    cleaned = _LEADING.sub("", text)
    return cleaned if cleaned else (EMPTY_TEXT if text else "")


def message_data(msg: InboundMessage) -> Dict[str, Any]:
    """The ``message.received`` event data (docs/contracts.md)."""
    loc = msg.location
    return {
        "wamid": msg.wamid, "wa_id": msg.wa_id, "name": msg.name, "phone_number_id": msg.phone_number_id,
        "type": msg.raw_type, "text": msg.text,
        "payload": msg.reply.payload if msg.reply else "", "title": msg.reply.title if msg.reply else "",
        "media": {"id": msg.media.id, "mime_type": msg.media.mime_type} if msg.media else None,
        "location": {"latitude": loc.latitude, "longitude": loc.longitude, "name": loc.name,
                     "address": loc.address} if loc else None,
        "context_id": msg.context_id, "timestamp": msg.timestamp,
    }


def received_event(msg: InboundMessage) -> Event:
    return Event(events.MESSAGE_RECEIVED, msg.wamid, message_data(msg))


def bot_input(msg: InboundMessage) -> Optional[BotInput]:
    """What the bot receives for ``msg``, or None when the type does not reach the bot."""
    text = _bot_text(msg)
    if text is None:
        return None
    meta = message_data(msg)
    meta["user_id"] = msg.user_id
    if msg.media:
        meta["media"] = {"id": msg.media.id, "mime_type": msg.media.mime_type,
                         "filename": msg.media.filename, "voice": msg.media.voice}
    if msg.reply and msg.reply.kind == "nfm_reply":
        meta["flow_response"] = _json_or_text(msg.reply.payload)
    return BotInput(sender_id=msg.wa_id or msg.user_id, text=text, message_id=msg.wamid, metadata=meta)


def _bot_text(msg: InboundMessage) -> Optional[str]:
    if msg.type is MessageType.TEXT:
        return neutralise(msg.text)
    if msg.reply is not None and msg.reply.kind in _TAP_KINDS:
        return msg.reply.payload  # set by Parley on the button it sent: may be an intent command
    if msg.reply is not None and msg.reply.kind == "nfm_reply":
        return FLOW_REPLY_TEXT
    if msg.type in MEDIA_TYPES and msg.media is not None:
        if msg.media.caption.strip():
            return neutralise(msg.media.caption)
        return _command(MEDIA_INTENT, {"media_type": msg.type.value})
    if msg.type is MessageType.LOCATION and msg.location is not None:
        loc = {"latitude": msg.location.latitude, "longitude": msg.location.longitude}
        return _command(LOCATION_INTENT, loc)
    return None


def _command(intent: str, entities: Dict[str, Any]) -> str:
    """An intent command only Parley builds (customers' text can never start with ``/``)."""
    return "/" + intent + json.dumps(entities, separators=(",", ":"))


def status_event(status: Status) -> Event:
    """``message.sent|delivered|read|failed`` (id ``{wamid}:{status}``)."""
    kind = _STATUS_EVENTS.get(status.status, events.MESSAGE_STATUS_OTHER)
    data = {
        "wamid": status.wamid, "wa_id": status.recipient_id, "status": status.raw_status,
        "timestamp": status.timestamp, "phone_number_id": status.phone_number_id,
        "errors": [e.to_dict() for e in status.errors],
        "biz_opaque_callback_data": status.biz_opaque_callback_data, "pricing": status.pricing,
    }
    return Event(kind, f"{status.wamid}:{status.raw_status}", data)


def echo_event(echo: Echo) -> Event:
    data = {"wamid": echo.wamid, "wa_id": echo.to, "phone_number_id": echo.phone_number_id,
            "type": echo.type, "timestamp": echo.timestamp, "payload": echo.raw}
    return Event(events.MESSAGE_ECHO, echo.wamid, data)


def direct_events(n: Notification) -> List[Tuple[str, Event, int]]:
    """Events that need no per-contact ordering: ``(claim key, event, claim TTL)`` each."""
    out: List[Tuple[str, Event, int]] = []
    for s in n.statuses:
        out.append((keys.seen_status(s.wamid, s.raw_status), status_event(s), CLAIM_TTL_S))
    for err in n.errors:
        data = {"phone_number_id": err.phone_number_id, "errors": [err.error.to_dict()]}
        out.append(_content_event(events.WEBHOOK_ERROR, data))
    for p in n.preferences:
        kind = {"stop": events.CONTACT_OPTED_OUT, "resume": events.CONTACT_OPTED_IN}.get(p.value)
        data: Dict[str, Any] = {"wa_id": p.wa_id, "source": "user_preferences", "category": "marketing",
                                "value": p.value, "detail": p.detail, "timestamp": p.timestamp,
                                "phone_number_id": p.phone_number_id}
        event_id = f"prefs:{p.wa_id}:{p.value}:{p.timestamp}"
        out.append((keys.seen_event(event_id), Event(kind or events.WEBHOOK_FIELD, event_id, data), CLAIM_TTL_S))
    for c in n.changes:
        data = {"field": c.field, "waba_id": c.waba_id, "time": c.time, "value": c.value}
        if c.field in _TEMPLATE_FIELDS:
            tid = str(c.value.get("message_template_id") or "")
            data.update(template_id=tid, template_name=str(c.value.get("message_template_name") or ""),
                        language=str(c.value.get("message_template_language") or ""),
                        status=str(c.value.get("event") or ""), reason=c.value.get("reason"))
            event_id = f"{c.field}:{tid}:{_digest(c.value)}:{c.time}"
            out.append((keys.seen_event(event_id), Event(_TEMPLATE_FIELDS[c.field], event_id, data), CLAIM_TTL_S))
        else:
            kind = events.ACCOUNT_UPDATED if c.field in _ACCOUNT_FIELDS else events.WEBHOOK_FIELD
            event_id = f"{c.field}:{_digest(c.value)}:{c.time}"
            out.append((keys.seen_event(event_id), Event(kind, event_id, data), CLAIM_TTL_S))
    return out


def malformed_event(body: bytes) -> Tuple[str, Event, int]:
    data = {"size": len(body), "head": body[:200].decode("utf-8", "replace")}
    return _content_event(events.WEBHOOK_MALFORMED, data, _digest(body))


def _content_event(kind: str, data: Dict[str, Any], digest: str = "") -> Tuple[str, Event, int]:
    event_id = f"{kind}:{digest or _digest(data)}"
    return keys.seen_event(event_id), Event(kind, event_id, data), CONTENT_CLAIM_TTL_S


def _digest(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value

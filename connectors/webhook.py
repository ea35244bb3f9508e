"""Parse a Cloud API webhook body into typed, immutable values.

:func:`parse` walks every ``entry``/``changes`` item and every ``messages``, ``statuses``,
``errors``, ``message_echoes`` and ``user_preferences`` element (Meta may batch them).
Parsing is defensive: a missing or oddly typed field becomes an empty value, a new message
type or status becomes ``UNKNOWN``; only a body that is not a JSON object raises
:class:`MalformedWebhook`. The value types are in :mod:`connectors.notification`.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, List, Optional, Tuple, Union

# The value types live in connectors.notification; re-exported here, where callers parse.
from .notification import (MEDIA_TYPES, ChangeError, Echo, ErrorInfo, FieldChange, InboundMessage, Location,
                           Media, MessageType, Notification, Preference, Reply, Status, StatusValue)

__all__ = ["parse", "MalformedWebhook", "MEDIA_TYPES", "ChangeError", "Echo", "ErrorInfo", "FieldChange",
           "InboundMessage", "Location", "Media", "MessageType", "Notification", "Preference", "Reply", "Status",
           "StatusValue"]


class MalformedWebhook(ValueError):
    """The body is not a JSON object."""


# JSON may escape a lone UTF-16 surrogate ("\ud800"); json.loads keeps it as a str that no
# UTF-8 encoder accepts, so one such signed body would fail every Redis write downstream (the
# fan-out retried it forever). Bodies with surrogate escapes (Meta escapes emoji as pairs) are
# walked once and lone surrogates become U+FFFD; a valid pair is already one code point.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")  # json.loads decodes bytes with surrogatepass
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def parse(body: Union[bytes, str, Dict[str, Any]]) -> Notification:
    """Parse a webhook body (raw bytes as received, or an already decoded object)."""
    if isinstance(body, dict):
        doc: Any = _scrub(body)
    else:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
            raise MalformedWebhook(str(exc)) from exc
        if isinstance(body, str) and _LONE_SURROGATE.search(body) or \
                _ESCAPED_SURROGATE.search(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")):
            doc = _scrub(doc)
    if not isinstance(doc, dict):
        raise MalformedWebhook("webhook body is not a JSON object")
    out = Notification()
    for entry in _dicts(doc.get("entry")):
        for change in _dicts(entry.get("changes")):
            _parse_change(out, str(entry.get("id") or ""), _int(entry.get("time")), change)
    return out


def _parse_change(out: Notification, waba_id: str, time: int, change: Dict[str, Any]) -> None:
    name = str(change.get("field") or "")
    value = change.get("value") if isinstance(change.get("value"), dict) else {}
    meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    phone_id = str(meta.get("phone_number_id") or "")
    if name == "messages":
        names = {
            str(c.get("wa_id") or ""): (_str(_get(c, "profile", "name")), str(c.get("user_id") or ""))
            for c in _dicts(value.get("contacts"))
        }
        out.messages.extend(_message(m, phone_id, names) for m in _dicts(value.get("messages")))
        out.statuses.extend(_status(s, phone_id) for s in _dicts(value.get("statuses")))
        out.errors.extend(ChangeError(phone_id, _error(e)) for e in _dicts(value.get("errors")))
    elif name == "smb_message_echoes":
        out.echoes.extend(
            Echo(_str(e.get("id")), _str(e.get("to")), phone_id, _str(e.get("type")), _int(e.get("timestamp")), e)
            for e in _dicts(value.get("message_echoes"))
        )
    elif name == "user_preferences":
        out.preferences.extend(
            Preference(_str(p.get("wa_id")), _str(p.get("value")), _str(p.get("category")),
                       _str(p.get("detail")), _int(p.get("timestamp")), phone_id)
            for p in _dicts(value.get("user_preferences"))
        )
    else:
        out.changes.append(FieldChange(name, waba_id, time, value))


def _message(m: Dict[str, Any], phone_id: str, names: Dict[str, Tuple[str, str]]) -> InboundMessage:
    raw_type = _str(m.get("type"))
    kind = MessageType.parse(raw_type)
    wa_id = _str(m.get("from"))
    name, user_id = names.get(wa_id, ("", ""))
    body = m.get(raw_type) if isinstance(m.get(raw_type), dict) else {}
    text, reply, media, location = "", None, None, None
    if kind is MessageType.TEXT:
        text = _str(body.get("body"))
    elif kind in MEDIA_TYPES:
        media = Media(_str(body.get("id")), _str(body.get("mime_type")), _str(body.get("caption")),
                      _str(body.get("filename")), _str(body.get("sha256")), bool(body.get("voice")))
        text = media.caption
    elif kind is MessageType.LOCATION:
        location = Location(_float(body.get("latitude")), _float(body.get("longitude")), _str(body.get("name")),
                            _str(body.get("address")), _str(body.get("url")))
    elif kind is MessageType.BUTTON:
        label = _str(body.get("text"))
        reply = Reply("button", _str(body.get("payload")) or label, label)
    elif kind is MessageType.INTERACTIVE:
        reply = _interactive(body)
    elif kind is MessageType.ORDER:
        text = _str(body.get("text"))
    elif kind is MessageType.SYSTEM:
        text = _str(body.get("body"))
    return InboundMessage(
        wamid=_str(m.get("id")), wa_id=wa_id, phone_number_id=phone_id, type=kind, raw_type=raw_type,
        timestamp=_int(m.get("timestamp")), name=name, user_id=user_id or _str(m.get("from_user_id")),
        text=text, reply=reply, media=media, location=location,
        context_id=_str(_get(m, "context", "id")),
        errors=tuple(_error(e) for e in _dicts(m.get("errors"))), raw=m,
    )


def _interactive(body: Dict[str, Any]) -> Optional[Reply]:
    kind = _str(body.get("type"))
    inner = body.get(kind) if isinstance(body.get(kind), dict) else None
    if inner is None:
        return None  # e.g. a re-tapped old message: Meta sends no interactive object
    if kind == "nfm_reply":
        return Reply(kind, _str(inner.get("response_json")), _str(inner.get("name")), _str(inner.get("body")))
    return Reply(kind, _str(inner.get("id")), _str(inner.get("title")), _str(inner.get("description")))


def _status(s: Dict[str, Any], phone_id: str) -> Status:
    raw = _str(s.get("status"))
    pricing = s.get("pricing") if isinstance(s.get("pricing"), dict) else None
    return Status(
        wamid=_str(s.get("id")), status=StatusValue.parse(raw), raw_status=raw,
        recipient_id=_str(s.get("recipient_id")), phone_number_id=phone_id, timestamp=_int(s.get("timestamp")),
        errors=tuple(_error(e) for e in _dicts(s.get("errors"))),
        biz_opaque_callback_data=_str(s.get("biz_opaque_callback_data")), pricing=pricing,
    )


def _error(e: Dict[str, Any]) -> ErrorInfo:
    return ErrorInfo(_int(e.get("code")), _str(e.get("title")), _str(e.get("message")),
                     _str(_get(e, "error_data", "details")))


def _dicts(value: Any) -> List[Dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _get(d: Dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)  # type: ignore[assignment]
    return d


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON 1e400 is float('inf')
        return 0


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer past float range
        return 0.0
    return number if math.isfinite(number) else 0.0

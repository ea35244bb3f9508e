"""Builders of Cloud API send bodies (reference §4), validated against §6.6 before any call.

Each builder returns the body of ``POST /{phone_number_id}/messages`` without ``to``: the
sender adds the recipient (and ``biz_opaque_callback_data``). A limit broken here raises
``InvalidRequest`` (code 100, ``local=True``) so a bad payload never costs a network round trip.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from connectors.errors import InvalidRequest

Payload = Dict[str, Any]

TEXT_MAX = 4096
CAPTION_MAX = 1024
BUTTON_BODY_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
MAX_BUTTONS = 3
LIST_BODY_MAX = 4096
LIST_BUTTON_MAX = 20
LIST_MAX_ROWS = 10
LIST_MAX_SECTIONS = 10
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
TEMPLATE_NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
CALLBACK_DATA_MAX = 512
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
_CAPTIONED = ("image", "video", "document")


def _invalid(details: str) -> InvalidRequest:
    return InvalidRequest("Invalid parameter", code=100, details=details, local=True)


def check_length(name: str, value: str, limit: int, *, required: bool = True) -> None:
    """Raise InvalidRequest when ``value`` is empty (if required) or longer than ``limit``."""
    if required and not value:
        raise _invalid(f"{name} is required")
    if len(value) > limit:
        raise _invalid(f"{name} is {len(value)} characters; the limit is {limit}")


def _message(kind: str, body: Mapping[str, Any], reply_to: Optional[str]) -> Payload:
    payload: Payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "type": kind, kind: dict(body)}
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def split_text(text: str, limit: int = TEXT_MAX) -> List[str]:
    """Split ``text`` into chunks of at most ``limit`` characters on word boundaries.

    Prefers a paragraph break, then a line break, then a space in the second half of the
    chunk; cuts inside a word only when a single word is longer than ``limit``. Whitespace at
    a cut is dropped; nothing else is. An empty or blank text gives no chunks.
    """
    chunks: List[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]  # a separator right after the limit is a clean cut too
        cut = -1
        for separator in ("\n\n", "\n", " "):
            position = window.rfind(separator)
            if position >= limit // 2:
                cut = position
                break
        if cut <= 0:
            cut = max(window.rfind(" "), window.rfind("\n"))
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def text(body: str, *, preview_url: bool = False, reply_to: Optional[str] = None) -> Payload:
    """A text message (≤ 4,096 characters; use ``split_text`` for longer texts)."""
    check_length("text.body", body, TEXT_MAX)
    content: Dict[str, Any] = {"body": body}
    if preview_url:
        content["preview_url"] = True
    return _message("text", content, reply_to)


def _header(header: Union[str, Mapping[str, Any], None]) -> Optional[Dict[str, Any]]:
    if header is None:
        return None
    if isinstance(header, str):
        check_length("header.text", header, HEADER_MAX)
        return {"type": "text", "text": header}
    return dict(header)


def _interactive(kind: str, body: str, action: Dict[str, Any], header: Any, footer: Optional[str],
                 reply_to: Optional[str]) -> Payload:
    content: Dict[str, Any] = {"type": kind}
    head = _header(header)
    if head is not None:
        content["header"] = head
    content["body"] = {"text": body}
    if footer:
        check_length("footer.text", footer, FOOTER_MAX)
        content["footer"] = {"text": footer}
    content["action"] = action
    return _message("interactive", content, reply_to)


def reply_buttons(
    body: str,
    buttons: Sequence[Tuple[str, str]],
    *,
    header: Union[str, Mapping[str, Any], None] = None,
    footer: Optional[str] = None,
    reply_to: Optional[str] = None,
) -> Payload:
    """Interactive reply buttons: 1-3 ``(id, title)`` pairs; titles ≤ 20 and unique, ids ≤ 256."""
    check_length("interactive.body.text", body, BUTTON_BODY_MAX)
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise _invalid(f"{len(buttons)} buttons; reply buttons take 1 to {MAX_BUTTONS}")
    titles = [title for _, title in buttons]
    if len(set(titles)) != len(titles):
        raise _invalid("button titles must be unique")
    items = []
    for button_id, title in buttons:
        check_length("button id", button_id, BUTTON_ID_MAX)
        check_length("button title", title, BUTTON_TITLE_MAX)
        items.append({"type": "reply", "reply": {"id": button_id, "title": title}})
    return _interactive("button", body, {"buttons": items}, header, footer, reply_to)


def list_message(
    body: str,
    button: str,
    sections: Sequence[Mapping[str, Any]],
    *,
    header: Optional[str] = None,
    footer: Optional[str] = None,
    reply_to: Optional[str] = None,
) -> Payload:
    """Interactive list: ``sections`` = [{"title"?, "rows": [{"id","title","description"?}]}],
    1-10 sections, at most 10 rows in all."""
    check_length("interactive.body.text", body, LIST_BODY_MAX)
    check_length("action.button", button, LIST_BUTTON_MAX)
    if not 1 <= len(sections) <= LIST_MAX_SECTIONS:
        raise _invalid(f"{len(sections)} sections; a list takes 1 to {LIST_MAX_SECTIONS}")
    out_sections = []
    total = 0
    for section in sections:
        rows = []
        for row in section.get("rows", ()):
            check_length("row id", str(row.get("id", "")), ROW_ID_MAX)
            check_length("row title", str(row.get("title", "")), ROW_TITLE_MAX)
            item = {"id": str(row["id"]), "title": str(row["title"])}
            if row.get("description"):
                check_length("row description", str(row["description"]), ROW_DESCRIPTION_MAX)
                item["description"] = str(row["description"])
            rows.append(item)
        if not rows:
            raise _invalid("a list section needs at least one row")
        total += len(rows)
        out = {"rows": rows}
        if section.get("title"):
            check_length("section title", str(section["title"]), SECTION_TITLE_MAX)
            out = {"title": str(section["title"]), "rows": rows}
        elif len(sections) > 1:
            raise _invalid("every section needs a title when there are several")
        out_sections.append(out)
    if total > LIST_MAX_ROWS:
        raise _invalid(f"{total} rows; a list takes at most {LIST_MAX_ROWS}")
    return _interactive("list", body, {"button": button, "sections": out_sections}, header, footer, reply_to)


def media(
    kind: str,
    *,
    link: Optional[str] = None,
    media_id: Optional[str] = None,
    caption: Optional[str] = None,
    filename: Optional[str] = None,
    reply_to: Optional[str] = None,
) -> Payload:
    """Image, audio, video, document or sticker, by ``link`` (http/https) or uploaded ``media_id``."""
    if kind not in MEDIA_KINDS:
        raise _invalid(f"media type {kind!r}; expected one of {', '.join(MEDIA_KINDS)}")
    if bool(link) == bool(media_id):
        raise _invalid("media needs exactly one of link or id")
    content: Dict[str, Any] = {"link": link} if link else {"id": media_id}
    if link and not link.startswith(("http://", "https://")):
        raise _invalid("media link must be an http(s) URL")
    if caption:
        if kind not in _CAPTIONED:
            raise _invalid(f"{kind} takes no caption")
        check_length("caption", caption, CAPTION_MAX)
        content["caption"] = caption
    if filename:
        if kind != "document":
            raise _invalid("only a document takes a filename")
        content["filename"] = filename
    return _message(kind, content, reply_to)


def _parameter(value: Any, name: Optional[str] = None) -> Dict[str, Any]:
    """A template parameter: plain values become text; dicts (currency, image...) pass through."""
    parameter = dict(value) if isinstance(value, Mapping) else {"type": "text", "text": str(value)}
    if name is not None:
        parameter["parameter_name"] = name
    return parameter


def template(
    name: str,
    language: str,
    *,
    body: Union[Sequence[Any], Mapping[str, Any], None] = None,
    header: Union[Sequence[Any], Mapping[str, Any], None] = None,
    buttons: Sequence[Mapping[str, Any]] = (),
    reply_to: Optional[str] = None,
) -> Payload:
    """A template message. ``body``/``header``: positional parameters as a sequence (for
    ``{{1}}``, ``{{2}}``...) or named ones as a mapping; a value that is a dict is used as the
    parameter object itself (currency, date_time, image...). ``buttons``: items made by
    ``quick_reply_button``, ``url_button`` or ``copy_code_button``."""
    if not TEMPLATE_NAME_RE.match(name):
        raise _invalid(f"template name {name!r} must be lowercase letters, digits and _")
    check_length("template.language.code", language, 15)
    components: List[Dict[str, Any]] = []
    for kind, values in (("header", header), ("body", body)):
        if not values:
            continue
        if isinstance(values, Mapping):
            parameters = [_parameter(value, str(key)) for key, value in values.items()]
        else:
            parameters = [_parameter(value) for value in values]
        components.append({"type": kind, "parameters": parameters})
    if len(buttons) > 10:
        raise _invalid("a template has at most 10 buttons")
    components.extend(dict(button) for button in buttons)
    content: Dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        content["components"] = components
    return _message("template", content, reply_to)


def quick_reply_button(index: int, payload: str) -> Dict[str, Any]:
    """The parameters of a template's quick-reply button at ``index`` (0-based)."""
    check_length("quick reply payload", payload, BUTTON_ID_MAX)
    return {"type": "button", "sub_type": "quick_reply", "index": str(index),
            "parameters": [{"type": "payload", "payload": payload}]}


def url_button(index: int, suffix: str) -> Dict[str, Any]:
    """The variable part of a template's URL button at ``index``."""
    check_length("url button parameter", suffix, 2000)
    return {"type": "button", "sub_type": "url", "index": str(index),
            "parameters": [{"type": "text", "text": suffix}]}


def copy_code_button(index: int, code: str) -> Dict[str, Any]:
    """The coupon code of a template's copy-code button at ``index``."""
    check_length("coupon code", code, 15)
    return {"type": "button", "sub_type": "copy_code", "index": str(index),
            "parameters": [{"type": "coupon_code", "coupon_code": code}]}


def reaction(message_id: str, emoji: str) -> Payload:
    """React to ``message_id``; an empty ``emoji`` removes the reaction."""
    check_length("reaction.message_id", message_id, 512)
    return _message("reaction", {"message_id": message_id, "emoji": emoji}, None)


def location(latitude: float, longitude: float, *, name: Optional[str] = None,
             address: Optional[str] = None, reply_to: Optional[str] = None) -> Payload:
    """A location pin."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise _invalid("latitude/longitude out of range")
    content: Dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        content["name"] = name
    if address:
        content["address"] = address
    return _message("location", content, reply_to)


def contacts(cards: Sequence[Mapping[str, Any]], *, reply_to: Optional[str] = None) -> Payload:
    """Contact cards in Meta's shape; each needs ``name.formatted_name``."""
    if not cards:
        raise _invalid("contacts needs at least one card")
    for card in cards:
        name = card.get("name")
        if not isinstance(name, Mapping) or not name.get("formatted_name"):
            raise _invalid("every contact card needs name.formatted_name")
    payload = _message("contacts", {}, reply_to)
    payload["contacts"] = [dict(card) for card in cards]
    return payload


def mark_read(message_id: str) -> Payload:
    """Mark an inbound message read (blue ticks). Not a message: it has no ``to``."""
    check_length("message_id", message_id, 512)
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def typing_indicator(message_id: str) -> Payload:
    """Mark read and show "typing…" for up to 25 s or until the next reply."""
    payload = mark_read(message_id)
    payload["typing_indicator"] = {"type": "text"}
    return payload


def is_template(payload: Mapping[str, Any]) -> bool:
    """True for template sends, the only kind allowed outside the 24-hour window."""
    return payload.get("type") == "template"


def check_callback_data(value: str) -> None:
    """``biz_opaque_callback_data`` is echoed in statuses; capped at 512 characters."""
    check_length("biz_opaque_callback_data", value, CALLBACK_DATA_MAX)

"""Rasa bot responses -> Cloud API send bodies. Plain functions; no rasa import.

A Rasa response is a dict with any of ``text``, ``buttons``/``quick_replies`` (``[{title,
payload}]``), ``image``, ``attachment``, ``elements`` and ``custom``. ``render`` turns one into
the list of bodies to send, in Rasa's own order (text with its buttons, then custom, image,
attachment, elements):

- text alone: text messages, split at 4,096 characters on word boundaries;
- 1-3 buttons: reply buttons (id = payload, title fitted to 20 characters and unique);
- 4-10 buttons: one list message (row title fitted to 24, the full title as description);
- more buttons, or a payload too long to be an id: numbered text ("1. ...") the user answers
  by typing (a lossy fallback: the number comes back as text, not as the payload);
- URL buttons (``url`` and no payload) become "title: url" lines of the text;
- image / attachment: media by link (an attachment dict may name its ``type``);
- custom: a raw Cloud API body (or a list of them) passed through, e.g. a template;
- elements (carousel cards): degraded to text.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set
from urllib.parse import urlparse

from connectors import payloads
from connectors.errors import InvalidRequest
from connectors.payloads import Payload

DEFAULT_PROMPT = "Please choose an option:"
LIST_BUTTON_LABEL = "Options"
ELLIPSIS = "…"

_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp"}
_VIDEO_EXT = {".mp4", ".3gp"}
_AUDIO_EXT = {".mp3", ".ogg", ".opus", ".aac", ".amr", ".m4a"}


def render(response: Mapping[str, Any], *, prompt: str = DEFAULT_PROMPT,
           list_label: str = LIST_BUTTON_LABEL) -> List[Payload]:
    """The Cloud API bodies (without ``to``) for one Rasa bot response."""
    out: List[Payload] = []
    text = str(response.get("text") or "")
    choices = list(response.get("quick_replies") or response.get("buttons") or ())
    if choices:
        out.extend(render_choices(text, choices, prompt=prompt, list_label=list_label))
    elif text.strip():
        out.extend(payloads.text(chunk) for chunk in payloads.split_text(text))
    if response.get("custom") is not None:
        out.extend(render_custom(response["custom"]))
    if response.get("image"):
        out.append(payloads.media("image", link=str(response["image"])))
    if response.get("attachment"):
        out.append(render_attachment(response["attachment"]))
    if response.get("elements"):
        out.extend(payloads.text(chunk) for chunk in payloads.split_text(render_elements(response["elements"])))
    return out


def render_all(responses: Iterable[Mapping[str, Any]], **options: Any) -> List[Payload]:
    """``render`` over several responses, concatenated in order."""
    return [body for response in responses for body in render(response, **options)]


def fit(title: str, limit: int, taken: Optional[Set[str]] = None) -> str:
    """``title`` shortened to ``limit`` characters (at a word boundary when one is near, with an
    ellipsis) and made unique among ``taken`` with a numeric suffix; adds the result to ``taken``."""
    title = " ".join(title.split()) or "-"
    fitted = title
    if len(title) > limit:
        cut = title[: limit - 1]
        space = cut.rfind(" ")
        if space >= limit // 2:
            cut = cut[:space]
        fitted = cut.rstrip() + ELLIPSIS
    if taken is not None:
        number = 2
        base = fitted
        while fitted in taken:
            suffix = f" ({number})"
            fitted = (base[: limit - len(suffix)].rstrip() + suffix) if len(base) + len(suffix) > limit else base + suffix
            number += 1
        taken.add(fitted)
    return fitted


def _payload(choice: Mapping[str, Any]) -> str:
    # Rasa sends the title when a button has no payload, so the id falls back to it.
    return str(choice.get("payload") or choice.get("title") or "")


def render_choices(text: str, choices: Sequence[Mapping[str, Any]], *, prompt: str = DEFAULT_PROMPT,
                   list_label: str = LIST_BUTTON_LABEL) -> List[Payload]:
    """Text plus buttons (or quick replies) -> reply buttons, a list, or numbered text."""
    links = [c for c in choices if c.get("url") and not c.get("payload")]
    options = [c for c in choices if c not in links]
    if links:
        lines = [f"{c.get('title') or c['url']}: {c['url']}" for c in links]
        text = "\n".join([text] + lines) if text.strip() else "\n".join(lines)
    if not options:
        return [payloads.text(chunk) for chunk in payloads.split_text(text)]
    if len(options) <= payloads.MAX_BUTTONS and _ids_fit(options, payloads.BUTTON_ID_MAX):
        lead, body = _lead_and_body(text, payloads.BUTTON_BODY_MAX, prompt)
        taken: Set[str] = set()
        buttons = [(_payload(c), fit(str(c.get("title") or _payload(c)), payloads.BUTTON_TITLE_MAX, taken))
                   for c in options]
        return lead + [payloads.reply_buttons(body, buttons)]
    if len(options) <= payloads.LIST_MAX_ROWS and _ids_fit(options, payloads.ROW_ID_MAX):
        lead, body = _lead_and_body(text, payloads.LIST_BODY_MAX, prompt)
        taken = set()
        rows = []
        for choice in options:
            full = " ".join(str(choice.get("title") or _payload(choice)).split())
            row: Dict[str, Any] = {"id": _payload(choice), "title": fit(full, payloads.ROW_TITLE_MAX, taken)}
            if row["title"] != full:
                row["description"] = fit(full, payloads.ROW_DESCRIPTION_MAX)
            rows.append(row)
        return lead + [payloads.list_message(body, fit(list_label, payloads.LIST_BUTTON_MAX), [{"rows": rows}])]
    numbered = "\n".join(f"{i}. {c.get('title') or _payload(c)}" for i, c in enumerate(options, 1))
    full_text = f"{text.strip()}\n\n{numbered}" if text.strip() else numbered
    return [payloads.text(chunk) for chunk in payloads.split_text(full_text)]


def _ids_fit(choices: Sequence[Mapping[str, Any]], limit: int) -> bool:
    ids = [_payload(c) for c in choices]
    return all(0 < len(i) <= limit for i in ids) and len(set(ids)) == len(ids)


def _lead_and_body(text: str, body_limit: int, prompt: str) -> "tuple[List[Payload], str]":
    """Split ``text`` into leading text messages and a last part short enough to be the body."""
    chunks = payloads.split_text(text)
    if not chunks:
        return [], prompt
    last = chunks.pop()
    if len(last) > body_limit:
        tail = payloads.split_text(last, body_limit)
        last = tail.pop()
        chunks.extend(tail)
    return [payloads.text(chunk) for chunk in chunks], last


def render_custom(custom: Any) -> List[Payload]:
    """A raw Cloud API body (dict with ``type`` and its object) or a list of them."""
    items = custom if isinstance(custom, list) else [custom]
    out: List[Payload] = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str) or item["type"] not in item:
            raise InvalidRequest("Invalid custom payload", code=100, local=True,
                                 details="custom must be a Cloud API body with 'type' and its object")
        body = {k: v for k, v in item.items() if k != "to"}
        body.setdefault("messaging_product", "whatsapp")
        body.setdefault("recipient_type", "individual")
        out.append(body)
    return out


def render_attachment(attachment: Any) -> Payload:
    """An attachment URL (kind guessed from the extension) or a dict with ``type``, ``url``
    (or ``link``/``id``), ``caption`` and ``filename``."""
    if isinstance(attachment, Mapping):
        payload = attachment.get("payload")
        source = payload if isinstance(payload, Mapping) else attachment
        link = source.get("url") or source.get("link")
        kind = str(attachment.get("type") or (_kind_of(link) if link else "document"))
        kind = "document" if kind in ("file", "") else kind
        return payloads.media(
            kind, link=link, media_id=source.get("id"), caption=source.get("caption"),
            filename=source.get("filename") if kind == "document" else None,
        )
    link = str(attachment)
    kind = _kind_of(link)
    filename = os.path.basename(urlparse(link).path) or None if kind == "document" else None
    return payloads.media(kind, link=link, filename=filename)


def _kind_of(link: str) -> str:
    extension = os.path.splitext(urlparse(link).path)[1].lower()
    if extension in _IMAGE_EXT:
        return "image"
    if extension in _VIDEO_EXT:
        return "video"
    if extension in _AUDIO_EXT:
        return "audio"
    return "document"


def render_elements(elements: Sequence[Mapping[str, Any]]) -> str:
    """Carousel cards as one text: bold title, subtitle, image and button lines per card."""
    cards = []
    for element in elements:
        lines = []
        if element.get("title"):
            lines.append(f"*{element['title']}*")
        if element.get("subtitle"):
            lines.append(str(element["subtitle"]))
        if element.get("image_url"):
            lines.append(str(element["image_url"]))
        for button in element.get("buttons") or ():
            target = button.get("url") or button.get("payload") or ""
            lines.append(f"- {button.get('title', '')}" + (f": {target}" if button.get("url") else ""))
        cards.append("\n".join(lines))
    return "\n\n".join(card for card in cards if card)

"""Validation of interactive messages: reply buttons, lists, CTA URL (reference 4.4, 4.5, 6.6)."""
from __future__ import annotations

from typing import Any

from ..errors import GraphError
from . import fields as f
from .media import validate_media

INTERACTIVE_TYPES = ("button", "list", "cta_url", "location_request_message")
_HEADER_TYPES = ("text", "image", "video", "document")


def validate_interactive(body: dict[str, Any]) -> None:
    kind = f.one_of(body.get("type"), "interactive['type']", INTERACTIVE_TYPES)
    action = f.require_obj(body, "action", "interactive")
    body_text_limit = 1024 if kind in ("button", "cta_url") else 4096
    text = f.require_obj(body, "body", "interactive")
    f.require_str(text, "text", "interactive['body']", limit=body_text_limit)
    footer = f.optional_obj(body, "footer", "interactive")
    if footer is not None:
        f.require_str(footer, "text", "interactive['footer']", limit=60)
    _header(body, text_only=kind == "list")
    if kind == "button":
        _buttons(action)
    elif kind == "list":
        _list(action)
    elif kind == "cta_url":
        _cta_url(action)
    else:
        f.one_of(action.get("name"), "interactive['action']['name']", ("send_location",))


def _header(body: dict[str, Any], *, text_only: bool) -> None:
    header = f.optional_obj(body, "header", "interactive")
    if header is None:
        return
    allowed = ("text",) if text_only else _HEADER_TYPES
    kind = f.one_of(header.get("type"), "interactive['header']['type']", allowed)
    if kind == "text":
        f.require_str(header, "text", "interactive['header']", limit=60)
        return
    media = f.require_obj(header, kind, "interactive['header']")
    validate_media(media, kind, f"interactive['header']['{kind}']")


def _buttons(action: dict[str, Any]) -> None:
    path = "interactive['action']['buttons']"
    buttons = f.require_list(action, "buttons", "interactive['action']")
    if not buttons:
        raise f.invalid(path, "at least one button is required")
    if len(buttons) > 3:
        raise GraphError(100, f"Param {path} must have at most 3 elements.")
    titles: set[str] = set()
    ids: set[str] = set()
    for index, button in enumerate(buttons):
        where = f.child(path, index)
        if not isinstance(button, dict):
            raise GraphError(100, f"Param {where} must be a JSON object.")
        f.one_of(button.get("type"), f.child(where, "type"), ("reply",))
        reply = f.require_obj(button, "reply", where)
        button_id = f.require_str(reply, "id", f.child(where, "reply"), limit=256)
        title = f.require_str(reply, "title", f.child(where, "reply"), limit=20)
        if title in titles:
            raise f.invalid(f.child(f.child(where, "reply"), "title"), "button titles must be unique")
        if button_id in ids:
            raise f.invalid(f.child(f.child(where, "reply"), "id"), "button ids must be unique")
        titles.add(title)
        ids.add(button_id)


def _list(action: dict[str, Any]) -> None:
    path = "interactive['action']"
    f.require_str(action, "button", path, limit=20)
    sections = f.require_list(action, "sections", path)
    if not sections:
        raise f.invalid(f.child(path, "sections"), "at least one section is required")
    if len(sections) > 10:
        raise GraphError(100, f"Param {path}['sections'] must have at most 10 elements.")
    total = 0
    row_ids: set[str] = set()
    for index, section in enumerate(sections):
        where = f.child(f.child(path, "sections"), index)
        if not isinstance(section, dict):
            raise GraphError(100, f"Param {where} must be a JSON object.")
        if len(sections) > 1 or section.get("title") is not None:
            f.require_str(section, "title", where, limit=24)
        rows = f.require_list(section, "rows", where)
        if not rows:
            raise f.invalid(f.child(where, "rows"), "at least one row is required")
        total += len(rows)
        if total > 10:
            raise GraphError(100, f"Param {path}['sections'] must have at most 10 rows in total.")
        for position, row in enumerate(rows):
            spot = f.child(f.child(where, "rows"), position)
            if not isinstance(row, dict):
                raise GraphError(100, f"Param {spot} must be a JSON object.")
            row_id = f.require_str(row, "id", spot, limit=200)
            f.require_str(row, "title", spot, limit=24)
            f.optional_str(row, "description", spot, limit=72)
            if row_id in row_ids:
                raise f.invalid(f.child(spot, "id"), "row ids must be unique")
            row_ids.add(row_id)


def _cta_url(action: dict[str, Any]) -> None:
    path = "interactive['action']"
    f.one_of(action.get("name"), f.child(path, "name"), ("cta_url",))
    parameters = f.require_obj(action, "parameters", path)
    f.require_str(parameters, "display_text", f.child(path, "parameters"), limit=20)
    url = f.require_str(parameters, "url", f.child(path, "parameters"), limit=2000)
    f.check_url(url, f.child(f.child(path, "parameters"), "url"))

"""Validation of ``POST /{phone_number_id}/messages`` bodies (reference sections 4 and 6.6).

``validate_send`` returns a ``SendRequest`` or a ``ReadReceipt`` (mark-as-read / typing
indicator: a body with ``status`` and no ``type``), or raises ``GraphError`` with the code Meta
uses: 100 for unknown/badly typed fields and length limits, 131008 for a missing nested
parameter, 131009 for an invalid value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import GraphError
from . import fields as f
from .interactive import validate_interactive
from .media import MEDIA_TYPES, validate_media

MESSAGE_TYPES = (
    "text", "image", "audio", "video", "document", "sticker",
    "location", "contacts", "interactive", "template", "reaction",
)
_NUMBER_NOISE = re.compile(r"[\s\-()+.]")
_PARAM_TYPES = (
    "text", "currency", "date_time", "image", "document", "video",
    "payload", "coupon_code", "action", "location",
)


@dataclass(frozen=True)
class SendRequest:
    """A send that passed validation."""

    to: str
    to_input: str
    type: str
    payload: dict[str, Any]
    callback_data: str | None
    context_id: str | None


@dataclass(frozen=True)
class ReadReceipt:
    """Mark-as-read, optionally with a typing indicator."""

    message_id: str
    typing: bool


def validate_send(payload: Any) -> SendRequest | ReadReceipt:
    """Check a send body; raise GraphError on the first problem, like Meta."""
    if not isinstance(payload, dict):
        raise GraphError(100, "The request body must be a JSON object.")
    product = payload.get("messaging_product")
    if product is None:
        raise GraphError(100, "The parameter messaging_product is required.")
    if not isinstance(product, str) or product.lower() != "whatsapp":
        raise GraphError(100, f"Param messaging_product must be one of {{WHATSAPP}} - got \"{product}\".")
    if "type" not in payload and "status" in payload:
        return _read_receipt(payload)
    kind = payload.get("type", "text")
    f.one_of(kind, "type", MESSAGE_TYPES)
    recipient_type = payload.get("recipient_type", "individual")
    f.one_of(recipient_type, "recipient_type", ("individual",))
    to_input = payload.get("to")
    if to_input is None:
        raise GraphError(100, "The parameter to is required.")
    to = normalise_number(f.check_str(to_input, "to", limit=64))
    callback = payload.get("biz_opaque_callback_data")
    if callback is not None:
        f.check_str(callback, "biz_opaque_callback_data", limit=512, allow_empty=True)
    context_id = _context(payload)
    _validate_type(kind, payload)
    return SendRequest(to, to_input, kind, payload, callback, context_id)


def normalise_number(raw: str) -> str:
    """``+1 (650) 555-1234`` -> ``16505551234``; 131009 unless 6..15 digits remain."""
    digits = _NUMBER_NOISE.sub("", raw)
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise f.invalid("to", f"\"{raw}\" is not a valid phone number")
    return digits


def _read_receipt(payload: dict[str, Any]) -> ReadReceipt:
    f.one_of(payload.get("status"), "status", ("read",))
    message_id = f.require_str(payload, "message_id", "", limit=512)
    if not message_id.startswith("wamid."):
        raise f.invalid("message_id", "must be a wamid")
    typing = payload.get("typing_indicator")
    if typing is not None:
        if not isinstance(typing, dict):
            raise GraphError(100, "Param typing_indicator must be a JSON object.")
        f.one_of(typing.get("type"), "typing_indicator['type']", ("text",))
    return ReadReceipt(message_id, typing is not None)


def _context(payload: dict[str, Any]) -> str | None:
    context = f.optional_obj(payload, "context", "")
    if context is None:
        return None
    return f.require_str(context, "message_id", "context", limit=512)


def _validate_type(kind: str, payload: dict[str, Any]) -> None:
    if kind == "contacts":
        _contacts(payload)
        return
    body = f.require_obj(payload, kind, "")
    if kind == "text":
        f.require_str(body, "body", "text", limit=4096)
        if "preview_url" in body:
            f.check_bool(body["preview_url"], "text['preview_url']")
    elif kind in MEDIA_TYPES:
        validate_media(body, kind)
    elif kind == "location":
        f.check_number(body.get("latitude"), "location['latitude']", -90, 90)
        f.check_number(body.get("longitude"), "location['longitude']", -180, 180)
        f.optional_str(body, "name", "location", limit=1000)
        f.optional_str(body, "address", "location", limit=1000)
    elif kind == "reaction":
        f.require_str(body, "message_id", "reaction", limit=512)
        emoji = body.get("emoji", "")
        f.check_str(emoji, "reaction['emoji']", limit=16, allow_empty=True)
    elif kind == "interactive":
        validate_interactive(body)
    else:
        _template_shape(body)


def _contacts(payload: dict[str, Any]) -> None:
    cards = f.require_list(payload, "contacts", "")
    if not cards:
        raise f.invalid("contacts", "at least one contact is required")
    for index, card in enumerate(cards):
        where = f.child("contacts", index)
        if not isinstance(card, dict):
            raise GraphError(100, f"Param {where} must be a JSON object.")
        name = f.require_obj(card, "name", where)
        f.require_str(name, "formatted_name", f.child(where, "name"), limit=1000)
        phones = card.get("phones", [])
        if not isinstance(phones, list):
            raise GraphError(100, f"Param {f.child(where, 'phones')} must be an array.")


def _template_shape(body: dict[str, Any]) -> None:
    f.require_str(body, "name", "template", limit=512)
    language = f.require_obj(body, "language", "template")
    f.require_str(language, "code", "template['language']", limit=20)
    components = body.get("components", [])
    if not isinstance(components, list):
        raise GraphError(100, "Param template['components'] must be an array.")
    for index, component in enumerate(components):
        where = f.child(f.child("template", "components"), index)
        if not isinstance(component, dict):
            raise GraphError(100, f"Param {where} must be a JSON object.")
        kind = component.get("type")
        if not isinstance(kind, str) or kind.lower() not in ("header", "body", "button", "footer"):
            raise GraphError(100, f"Param {f.child(where, 'type')} must be one of {{header, body, button, footer}}.")
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise GraphError(100, f"Param {f.child(where, 'parameters')} must be an array.")
        for position, parameter in enumerate(parameters):
            spot = f.child(f.child(where, "parameters"), position)
            if not isinstance(parameter, dict):
                raise GraphError(100, f"Param {spot} must be a JSON object.")
            f.one_of(parameter.get("type"), f.child(spot, "type"), _PARAM_TYPES)
            if parameter["type"] == "text":
                f.require_str(parameter, "text", spot, limit=32768)

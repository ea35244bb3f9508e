"""Validation of a media object (``{"id"}`` or ``{"link"}``), in messages and interactive headers."""
from __future__ import annotations

from typing import Any

from ..errors import GraphError
from . import fields as f

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
_CAPTIONED = ("image", "video", "document")


def validate_media(body: dict[str, Any], kind: str, path: str | None = None) -> None:
    """Exactly one of ``id`` / ``link``; captions only where Meta allows them."""
    where = path or kind
    has_id, has_link = body.get("id") is not None, body.get("link") is not None
    if has_id == has_link:
        raise f.invalid(where, "exactly one of 'id' or 'link' is required")
    if has_id:
        f.require_str(body, "id", where, limit=256)
    else:
        f.check_url(f.require_str(body, "link", where, limit=2000), f.child(where, "link"))
    if "caption" in body:
        if kind not in _CAPTIONED:
            raise GraphError(100, f"Param {f.child(where, 'caption')} is not allowed for {kind} messages.")
        f.optional_str(body, "caption", where, limit=1024)
    if kind == "document":
        f.optional_str(body, "filename", where, limit=240)

"""Template management actions (reference 7.1-7.3): each status change emits its webhook.

Create -> PENDING, then automatic review after ``template_review_ms`` (APPROVED) unless
``template_auto_approve`` is off; edits go back to PENDING and are reviewed again; deletes
emit ``PENDING_DELETION``; the admin API can set any status.
"""
from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from .envelopes import Notification
from .errors import AdminError, GraphError
from .state import Sandbox
from .template_rules import Definition, validate_definition
from .templates import ALL_FIELDS, STATUSES, Template

REASONS = ("NONE", "ABUSIVE_CONTENT", "INCORRECT_CATEGORY", "INVALID_FORMAT", "PROMOTIONAL", "SCAM",
           "TAG_CONTENT_MISMATCH")


def create(sandbox: Sandbox, payload: Any) -> dict[str, Any]:
    definition = validate_definition(payload)
    if sandbox.templates.exists(definition.name, definition.language):
        raise GraphError(100, "Content in this language already exists.", subcode=2388024)
    template = sandbox.templates.add(definition)
    _review_later(sandbox, template)
    return {"id": template.id, "status": template.status, "category": template.category}


def edit(sandbox: Sandbox, template: Template, payload: Any) -> dict[str, Any]:
    if template.status == "PENDING":
        raise GraphError(100, "The template is in review and can't be edited now.", subcode=2388039)
    if isinstance(payload, dict) and any(key in payload for key in ("name", "language")):
        raise GraphError(100, "The name and language of a template can't be edited.", subcode=2388039)
    current = Definition(template.name, template.language, template.category, template.parameter_format,
                         template.components)
    template.define(validate_definition(payload, current=current))
    change_status(sandbox, template, "PENDING")
    _review_later(sandbox, template)
    return {"success": True}


def delete(sandbox: Sandbox, name: str | None, hsm_id: str | None) -> dict[str, Any]:
    if not name:
        raise GraphError(100, "The parameter name is required.")
    matches = [t for t in sandbox.templates.named(name) if hsm_id is None or t.id == hsm_id]
    if not matches:
        raise GraphError(100, f"Template {name!r} not found.", subcode=2593002)
    for template in matches:
        sandbox.templates.remove(template)
        change_status(sandbox, template, "PENDING_DELETION", reason=None)
    return {"success": True}


def set_status(sandbox: Sandbox, template_id: str, payload: Any) -> dict[str, Any]:
    """The admin call ``POST /_sandbox/templates/{id}/status``."""
    template = sandbox.templates.get(template_id)
    if template is None:
        raise AdminError(f"unknown template id {template_id!r}", 404)
    status = payload.get("status") if isinstance(payload, dict) else None
    if status not in STATUSES:
        raise AdminError(f"status must be one of {', '.join(STATUSES)}")
    reason = payload.get("reason", "INVALID_FORMAT" if status == "REJECTED" else "NONE")
    if reason is not None and reason not in REASONS:
        raise AdminError(f"reason must be null or one of {', '.join(REASONS)}")
    change_status(sandbox, template, status, reason=reason, force=True)
    return template.to_graph()


def change_status(sandbox: Sandbox, template: Template, status: str, *, reason: str | None = "NONE",
                  force: bool = False) -> None:
    """The one place a template's status changes; emits ``message_template_status_update``."""
    if template.status == status and not force:
        return
    template.status = status
    if status == "REJECTED":
        template.rejected_reason = reason or "NONE"
    now = int(sandbox.now())
    value: dict[str, Any] = {
        "event": status,
        "message_template_id": int(template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": reason,
        "message_template_category": template.category,
    }
    if status == "REJECTED" and reason == "INVALID_FORMAT":
        value["rejection_info"] = {"reason": "The template's format is invalid (sandbox).",
                                   "recommendation": "Fix the format and submit again."}
    if status == "PAUSED":
        value["other_info"] = {"title": "FIRST_PAUSE", "description": "Paused because of low quality (sandbox)."}
    if status == "DISABLED":
        value["other_info"] = {"title": "DISABLED", "description": "Disabled because of low quality (sandbox)."}
        value["disable_info"] = {"disable_date": now}
    sandbox.webhooks.notify(Notification("message_template_status_update", value, time=now))


def _review_later(sandbox: Sandbox, template: Template) -> None:
    if sandbox.config.template_auto_approve:
        sandbox.timers.call_later(sandbox.config.template_review_ms / 1000, _review, sandbox, template.id,
                                  sandbox.generation)


def _review(sandbox: Sandbox, template_id: str, generation: int) -> None:
    template = sandbox.templates.get(template_id)
    if generation == sandbox.generation and template is not None and template.status == "PENDING":
        change_status(sandbox, template, "APPROVED")


def listing(sandbox: Sandbox, args: dict[str, str], page_url: str) -> dict[str, Any]:
    """``GET /{waba_id}/message_templates`` with fields/status/name/category/language/limit/after/before."""
    fields = _fields(args.get("fields"))
    found = sandbox.templates.search(
        name=args.get("name") or None,
        status=_set(args.get("status")),
        category=_set(args.get("category")),
        language=args.get("language") or None,
    )
    limit = _int(args.get("limit"), 25, "limit", 1, 1000)
    start = _cursor(args.get("after"), 1) if args.get("after") else 0
    if args.get("before"):
        start = max(0, _cursor(args.get("before"), 0) - limit)
    page = found[start:start + limit]
    body: dict[str, Any] = {"data": [template.to_graph(fields) for template in page]}
    if page:
        cursors = {"before": _encode(start), "after": _encode(start + len(page) - 1)}
        paging: dict[str, Any] = {"cursors": cursors}
        if start + len(page) < len(found):
            query = {k: v for k, v in args.items() if k not in ("after", "before", "access_token")}
            paging["next"] = f"{page_url}?{urlencode({**query, 'limit': limit, 'after': cursors['after']})}"
        if start > 0:
            query = {k: v for k, v in args.items() if k not in ("after", "before", "access_token")}
            paging["previous"] = f"{page_url}?{urlencode({**query, 'limit': limit, 'before': cursors['before']})}"
        body["paging"] = paging
    if args.get("summary") == "total_count":
        body["summary"] = {"total_count": len(found)}
    return body


def _fields(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    fields = [item.strip() for item in raw.split(",") if item.strip()]
    unknown = [item for item in fields if item not in ALL_FIELDS]
    if unknown:
        raise GraphError(100, f"Tried accessing nonexisting field ({unknown[0]}) on node type (WhatsAppBusinessHSM)")
    return fields


def _set(raw: str | None) -> set[str] | None:
    return {item.strip().upper() for item in raw.split(",") if item.strip()} if raw else None


def _int(raw: str | None, default: int, name: str, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise GraphError(100, f"Param {name} must be an integer between {low} and {high}.")
    return int(raw)


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode()


def _cursor(raw: str | None, offset: int) -> int:
    try:
        text = base64.urlsafe_b64decode((raw or "").encode()).decode()
        if not text.startswith("idx:"):
            raise ValueError(text)
        return int(text[4:]) + offset
    except (ValueError, UnicodeDecodeError):
        raise GraphError(100, "Invalid cursor.") from None

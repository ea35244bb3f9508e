"""Routes: template library (sync, create + submit, per-recipient preview)."""
from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from ..templates import build_payload, preview, resolve
from .common import bc, body, out

bp = Blueprint("templates", url_prefix="/api/templates")


@bp.get("")
async def list_templates(request: Request) -> HTTPResponse:
    return out({"templates": await bc(request).templates.list()})


@bp.post("")
async def create_template(request: Request) -> HTTPResponse:
    return out(await bc(request).templates.create(body(request)), 201)


@bp.post("/sync")
async def sync(request: Request) -> HTTPResponse:
    return out({"synced": await bc(request).templates.sync()})


@bp.post("/<template_id>/preview")
async def preview_for(request: Request, template_id: str) -> HTTPResponse:
    """``{"phone", "variables": mapping}`` -> the text and payload that contact would get."""
    ctx, data = bc(request), body(request)
    template = await ctx.templates.get(template_id)
    contact = await ctx.contacts.get(ctx.contacts.wa_id_of(str(data.get("phone", ""))))
    values = resolve(data.get("variables") or {}, template.get("variables") or [], contact)
    return out({"text": preview(template, values), "values": values, "payload": build_payload(template, values)})

"""Routes: segments and live audience counts."""
from __future__ import annotations

import uuid

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from .common import bc, body, out

bp = Blueprint("segments", url_prefix="/api/segments")


@bp.get("")
async def list_segments(request: Request) -> HTTPResponse:
    return out({"segments": await bc(request).segments.list()})


@bp.post("")
async def save_segment(request: Request) -> HTTPResponse:
    data = body(request)
    segment_id = str(data.get("id") or uuid.uuid4().hex[:10])
    return out(await bc(request).segments.save(segment_id, str(data.get("name") or segment_id),
                                               data.get("filter") or {}), 201)


@bp.post("/count")
async def count(request: Request) -> HTTPResponse:
    return out({"count": await bc(request).segments.count(body(request).get("filter") or {})})


@bp.get("/<segment_id>")
async def get_segment(request: Request, segment_id: str) -> HTTPResponse:
    segments = bc(request).segments
    doc = await segments.get(segment_id)
    return out({**doc, "count": await segments.count(doc["filter"])})


@bp.delete("/<segment_id>")
async def delete_segment(request: Request, segment_id: str) -> HTTPResponse:
    return out({"deleted": await bc(request).segments.delete(segment_id)})

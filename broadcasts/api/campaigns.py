"""Routes: campaigns, their actions, pre-flight and live analytics."""
from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from ..errors import IllegalTransition
from .common import bc, body, out

bp = Blueprint("campaigns", url_prefix="/api/campaigns")


@bp.get("")
async def list_campaigns(request: Request) -> HTTPResponse:
    return out({"campaigns": await bc(request).campaigns.list(request.args.get("state"))})


@bp.post("")
async def create(request: Request) -> HTTPResponse:
    return out(await bc(request).service.create(body(request)), 201)


@bp.get("/<cid>")
async def get(request: Request, cid: str) -> HTTPResponse:
    doc = await bc(request).campaigns.get(cid)
    scheduler = request.app.ctx.runtime.scheduler
    return out({**doc, "next_run": scheduler.next_run(cid) if scheduler else None})


@bp.patch("/<cid>")
async def edit(request: Request, cid: str) -> HTTPResponse:
    return out(await bc(request).campaigns.update(cid, body(request)))


@bp.post("/<cid>/preflight")
async def preflight(request: Request, cid: str) -> HTTPResponse:
    return out((await bc(request).service.preflight(cid)).to_dict())


@bp.post("/<cid>/schedule")
async def schedule(request: Request, cid: str) -> HTTPResponse:
    scheduler = request.app.ctx.runtime.scheduler
    if scheduler is None:
        raise IllegalTransition("this process runs no scheduler")
    return out(await scheduler.schedule(cid, body(request).get("schedule") or body(request)))


@bp.post("/<cid>/<action:start|pause|resume|cancel|unschedule>")
async def act(request: Request, cid: str, action: str) -> HTTPResponse:
    ctx = bc(request)
    if action == "unschedule":
        doc = await ctx.campaigns.transition(cid, "unschedule")
    elif action == "pause":
        doc = await ctx.service.pause(cid, reason="api")
    else:
        doc = await getattr(ctx.service, action)(cid)
    if action in ("cancel", "unschedule") and request.app.ctx.runtime.scheduler is not None:
        request.app.ctx.runtime.scheduler.unschedule(cid)
    return out(doc)


@bp.post("/<cid>/retry-failed")
async def retry_failed(request: Request, cid: str) -> HTTPResponse:
    return out({"retried": await bc(request).service.retry_failed(cid)})


@bp.get("/<cid>/analytics")
async def analytics(request: Request, cid: str) -> HTTPResponse:
    return out(await bc(request).tracker.analytics(cid))


@bp.get("/<cid>/recipients")
async def recipients(request: Request, cid: str) -> HTTPResponse:
    query = {"campaign_id": cid}
    if request.args.get("state"):
        query["state"] = request.args.get("state")
    limit = min(int(request.args.get("limit", 100)), 1000)
    docs = [d async for d in bc(request).recipients.col.find(query).limit(limit)]
    return out({"recipients": docs})

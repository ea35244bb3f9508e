"""Routes: CRM webhook subscriptions, secret rotation and recent delivery attempts.
The secret is in the answers of POST /api/webhooks and .../rotate-secret only."""
from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from ..errors import InvalidInput, NotFound
from .common import bc, body, out

bp = Blueprint("webhooks", url_prefix="/api/webhooks")


@bp.get("")
async def list_webhooks(request: Request) -> HTTPResponse:
    return out({"webhooks": await bc(request).webhooks.subscriptions.list()})


@bp.post("")
async def create(request: Request) -> HTTPResponse:
    return out(await bc(request).webhooks.subscriptions.create(body(request)), 201)


@bp.get("/<wid>")
async def get(request: Request, wid: str) -> HTTPResponse:
    return out(await bc(request).webhooks.subscriptions.get(wid))


@bp.patch("/<wid>")
async def edit(request: Request, wid: str) -> HTTPResponse:
    return out(await bc(request).webhooks.subscriptions.update(wid, body(request)))


@bp.delete("/<wid>")
async def delete(request: Request, wid: str) -> HTTPResponse:
    if not await bc(request).webhooks.delete(wid):
        raise NotFound(f"no webhook {wid}")
    return out({"deleted": wid})


@bp.post("/<wid>/rotate-secret")
async def rotate_secret(request: Request, wid: str) -> HTTPResponse:
    return out(await bc(request).webhooks.subscriptions.rotate_secret(wid))


@bp.get("/<wid>/deliveries")
async def deliveries(request: Request, wid: str) -> HTTPResponse:
    webhooks = bc(request).webhooks
    await webhooks.subscriptions.get(wid)  # 404 for an unknown subscription
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
    except ValueError:
        raise InvalidInput("limit must be a number") from None
    return out({"deliveries": await webhooks.outbox.recent(wid, limit, request.args.get("state"))})

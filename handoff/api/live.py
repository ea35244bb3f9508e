"""The console's websocket: `/api/live?last_id=<stream id>`.

Frames (JSON): `{"type": "hello", "id"}` first (the feed's current head when no last_id was
given), then `{"id", "type": "ticket"|"message", "data"}` in stream order, `{"type": "reset"}`
when the missed entries were trimmed (reload), and `{"type": "ping"}` every 20 s. The client
keeps the last id it saw and resends it when it reconnects: nothing is lost or doubled.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from sanic import Blueprint, Request

from handoff import guard
from handoff.api.security import SESSION_COOKIE, same_origin
from handoff.errors import HandoffError
from handoff.live import stream_id_key
from handoff.models import HANDOFF_ROLES

bp = Blueprint("live")
PING_S = 20.0


@bp.websocket("/api/live")
async def live(request: Request, ws: Any) -> None:
    ctx = request.app.ctx.handoff
    if not same_origin(request):
        await ws.close(code=4403, reason="cross-origin")
        return
    try:
        caller, _ = await ctx.auth.session(request.cookies.get(SESSION_COOKIE, ""))
        guard.check_roles(caller, HANDOFF_ROLES)
    except HandoffError:
        await ws.close(code=4401, reason="please log in")
        return
    sub = ctx.hub.subscribe(caller)  # before the replay: nothing falls in between
    connection = ctx.presence.new_connection()
    try:
        last = request.args.get("last_id", "")
        if last:
            missed = await ctx.hub.replay(caller, last)
            if missed is None:
                await ws.send(json.dumps({"type": "reset"}))
                last = await ctx.hub.head()
            else:
                for frame in missed:
                    await ws.send(json.dumps(frame))
                    last = frame["id"]
        else:
            last = await ctx.hub.head()
        await ws.send(json.dumps({"type": "hello", "id": last, "agent": caller.agent_id}))
        await _follow(ctx, ws, sub, last, connection)
    finally:
        ctx.hub.unsubscribe(sub)
        await ctx.presence.leave(caller.agent_id, connection)


async def _follow(ctx: Any, ws: Any, sub: Any, last: str, connection: str) -> None:
    """Send the feed; keep the agent's presence alive (one heartbeat per PING_S at most)."""
    seen = stream_id_key(last)
    loop = asyncio.get_running_loop()
    beat_at = -PING_S
    while True:
        if loop.time() - beat_at >= PING_S:
            beat_at = loop.time()
            await ctx.presence.beat(sub.caller.agent_id, connection)
        try:
            frame = await asyncio.wait_for(sub.queue.get(), timeout=PING_S)
        except asyncio.TimeoutError:
            await ws.send(json.dumps({"type": "ping"}))
            continue
        if sub.overflowed:
            await ws.close(code=4000, reason="too slow; reconnect")
            return
        if stream_id_key(frame["id"]) <= seen:
            continue  # already sent by the replay
        seen = stream_id_key(frame["id"])
        await ws.send(json.dumps(frame))

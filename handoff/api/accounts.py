"""Login, logout, the current agent, agents, API tokens, templates, canned replies, analytics."""
from __future__ import annotations

import json as jsonlib
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff import analytics, keys
from handoff.access import check_role
from handoff.api.security import (caller_of, check_origin, clear_session_cookies,
                                  set_session_cookies)
from handoff.api.tickets import _body
from handoff.errors import BadRequest, Forbidden, NotFound
from handoff.models import Role, utcnow

bp = Blueprint("accounts", url_prefix="/api")
CANNED = Path(__file__).resolve().parent.parent / "canned.json"


def _ctx(request: Request) -> Any:
    return request.app.ctx.handoff


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    check_origin(request)  # no session yet: the Origin check stops login CSRF
    body = _body(request)
    ctx = _ctx(request)
    ip = request.remote_addr or request.ip or "unknown"
    agent, session_id, csrf = await ctx.auth.login(str(body.get("email") or ""),
                                                   str(body.get("password") or ""), ip)
    response = json({"agent": agent.public(), "csrf": csrf})
    set_session_cookies(response, session_id, csrf, secure=ctx.settings.cookie_secure,
                        max_age=int(ctx.settings.session_hours * 3600))
    return response


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    caller = await caller_of(request, roles=None)
    await _ctx(request).auth.logout(caller)
    response = json({"ok": True})
    clear_session_cookies(response, _ctx(request).settings.cookie_secure)
    return response


@bp.get("/me")
async def me(request: Request) -> HTTPResponse:
    caller = await caller_of(request, roles=None)
    agent = await _ctx(request).ops.agents.get(caller.agent_id)
    return json({"agent": agent.public(), "csrf": request.cookies.get("parley_csrf", "")})


@bp.get("/agents")
async def list_agents(request: Request) -> HTTPResponse:
    """Active agents with presence, capacity and open chats (for transfers and supervisors)."""
    await caller_of(request)
    ctx = _ctx(request)
    agents = [a for a in await ctx.ops.agents.list() if a.active]
    online = await ctx.presence.online(a.id for a in agents)
    loads = await ctx.ops.service.tickets.open_counts()
    return json({"agents": [{"id": a.id, "name": a.name, "role": a.role.value,
                             "online": a.id in online, "capacity": a.capacity,
                             "open": loads.get(a.id, 0)} for a in agents]})


@bp.patch("/agents/<agent_id:str>")
async def update_agent(request: Request, agent_id: str) -> HTTPResponse:
    """Supervisors and admins set an agent's capacity (max concurrent auto-assigned chats;
    0 = never auto-assigned) and whether the account is active."""
    caller = await caller_of(request)
    check_role(caller, Role.ADMIN, Role.SUPERVISOR)
    body = _body(request)
    fields: Dict[str, Any] = {}
    if "capacity" in body:
        capacity = body["capacity"]
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity <= 100:
            raise BadRequest("capacity must be an integer from 0 to 100")
        fields["capacity"] = capacity
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("active must be true or false")
        fields["active"] = body["active"]
    if not fields:
        raise BadRequest("send capacity and/or active")
    agent = await _ctx(request).ops.agents.update(agent_id, **fields)
    if agent is None:
        raise NotFound("no such agent", agent=agent_id)
    return json({"agent": agent.public()})


@bp.post("/agents")
async def create_agent(request: Request) -> HTTPResponse:
    caller = await caller_of(request)
    check_role(caller, Role.ADMIN)
    body = _body(request)
    try:
        role = Role(str(body.get("role") or "agent"))
        agent = await _ctx(request).auth.create_agent(
            str(body["id"]), str(body["email"]), str(body.get("name") or ""), role,
            str(body["password"]), int(body.get("capacity") or 5))
    except (KeyError, ValueError) as exc:
        raise BadRequest(f"invalid agent: {exc}") from exc
    return json({"agent": agent.public()}, status=201)


@bp.post("/tokens")
async def create_token(request: Request) -> HTTPResponse:
    """A bearer token for the caller, or (admins) for another agent. Shown once. Any role
    (a marketer's token is for the broadcasts API)."""
    caller = await caller_of(request, roles=None)
    body = _body(request)
    agent_id = str(body.get("agent") or caller.agent_id)
    if agent_id != caller.agent_id and caller.role is not Role.ADMIN:
        raise Forbidden("only admins issue tokens for other agents")
    if await _ctx(request).ops.agents.get(agent_id) is None:
        raise BadRequest("no such agent")
    token = await _ctx(request).auth.issue_token(agent_id, str(body.get("label") or "api"))
    return json({"token": token, "agent": agent_id}, status=201)


@bp.get("/templates")
async def templates(request: Request) -> HTTPResponse:
    await caller_of(request)
    return json({"templates": await _ctx(request).ops.replies.templates()})


@bp.get("/canned")
async def canned(request: Request) -> HTTPResponse:
    await caller_of(request)
    replies: List[Dict[str, str]] = jsonlib.loads(CANNED.read_text(encoding="utf-8"))
    return json({"canned": replies})


@bp.get("/analytics")
async def analytics_report(request: Request) -> HTTPResponse:
    caller = await caller_of(request)
    check_role(caller, Role.ADMIN, Role.SUPERVISOR)
    days = max(1, min(int(request.args.get("days", "14")), 366))
    ctx = _ctx(request)
    now = utcnow()
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    report = await ctx.ops.service.tickets.analytics(since)
    labels = [(since + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    async with ctx.redis.pipeline(transaction=False) as pipe:
        for day in labels:
            pipe.pfcount(keys.conversations(day))
        counts = await pipe.execute()
    return json(analytics.with_deflection(report, dict(zip(labels, counts))))

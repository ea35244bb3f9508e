"""Ticket routes: list, detail, request, claim, assign, transfer, requeue, resolve, reply."""
from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.api.security import caller_of
from handoff.errors import BadRequest
from handoff.operations import Operations

bp = Blueprint("tickets", url_prefix="/api/tickets")


def _ops(request: Request) -> Operations:
    return request.app.ctx.handoff.ops


def _body(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception as exc:
        raise BadRequest("the body must be JSON") from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


@bp.get("/")
async def list_tickets(request: Request) -> HTTPResponse:
    caller = await caller_of(request)
    tickets = await _ops(request).list(caller, request.args.get("view", "queue"),
                                       min(int(request.args.get("limit", "200")), 500))
    return json({"tickets": [t.summary() for t in tickets]})


@bp.post("/")
async def request_handoff(request: Request) -> HTTPResponse:
    caller = await caller_of(request)
    ticket = await _ops(request).request(caller, _body(request))
    return json({"ticket": ticket.to_json()}, status=201)


@bp.get("/<ticket_id:str>")
async def detail(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    return json(await _ops(request).detail(caller, ticket_id))


@bp.post("/<ticket_id:str>/claim")
async def claim(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    return json({"ticket": (await _ops(request).claim(caller, ticket_id)).to_json()})


@bp.post("/<ticket_id:str>/assign")
async def assign(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    agent = str(_body(request).get("agent") or "")
    return json({"ticket": (await _ops(request).assign(caller, ticket_id, agent)).to_json()})


@bp.post("/<ticket_id:str>/transfer")
async def transfer(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    agent = str(_body(request).get("agent") or "")
    return json({"ticket": (await _ops(request).transfer(caller, ticket_id, agent)).to_json()})


@bp.post("/<ticket_id:str>/requeue")
async def requeue(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    return json({"ticket": (await _ops(request).transfer(caller, ticket_id, "")).to_json()})


@bp.post("/<ticket_id:str>/resolve")
async def resolve(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    return json(await _ops(request).resolve(caller, ticket_id))


@bp.post("/<ticket_id:str>/reply")
async def reply(request: Request, ticket_id: str) -> HTTPResponse:
    caller = await caller_of(request)
    return json(await _ops(request).reply(caller, ticket_id, _body(request)))

"""The Sanic side of request authentication (rules in `handoff.guard`), cookies and security
headers. Every API route starts with `await caller_of(request)`."""
from __future__ import annotations

from typing import AbstractSet, Any, Optional

from sanic import Request
from sanic.response import HTTPResponse

from handoff import guard
from handoff.access import Caller
from handoff.auth import Authenticator
from handoff.guard import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from handoff.models import HANDOFF_ROLES, Role

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


def same_origin(request: Request) -> bool:
    return guard.same_origin(request.headers.get("origin"), request.host)


def check_origin(request: Request) -> None:
    guard.check_origin(request.headers.get("origin"), request.host)


async def authenticate(request: Request, auth: Authenticator,
                       roles: Optional[AbstractSet[Role]]) -> Caller:
    """`handoff.guard.authenticate` over a Sanic request (used by handoff and broadcasts)."""
    return await guard.authenticate(
        auth, method=request.method, authorization=request.headers.get("authorization", ""),
        session_cookie=request.cookies.get(SESSION_COOKIE, ""),
        csrf_header=request.headers.get(CSRF_HEADER, ""), origin=request.headers.get("origin"),
        host=request.host, roles=roles)


async def caller_of(request: Request,
                    roles: Optional[AbstractSet[Role]] = HANDOFF_ROLES) -> Caller:
    """The authenticated caller of a handoff route (403 for roles without queue access, e.g.
    marketers; `roles=None` for the account routes every role uses)."""
    return await authenticate(request, request.app.ctx.handoff.auth, roles)


def set_session_cookies(response: HTTPResponse, session_id: str, csrf: str, *, secure: bool,
                        max_age: int) -> None:
    response.add_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="Strict",
                        secure=secure, path="/", max_age=max_age)
    # Readable by the console's script, which echoes it in X-CSRF-Token (double submit).
    response.add_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Strict", secure=secure,
                        path="/", max_age=max_age)


def clear_session_cookies(response: HTTPResponse, secure: bool) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):  # Max-Age 0, same flags as when set
        response.add_cookie(name, "", httponly=name == SESSION_COOKIE, samesite="Strict",
                            secure=secure, path="/", max_age=0)


def add_security_headers(request: Request, response: Optional[HTTPResponse]) -> Any:
    if response is None:
        return None
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return None

"""Request authentication (session cookie or bearer token), CSRF and Origin checks, cookies
and security headers. Every API route starts with `await caller_of(request)`."""
from __future__ import annotations

import hmac
from typing import Any, Optional
from urllib.parse import urlsplit

from sanic import Request
from sanic.response import HTTPResponse

from handoff.access import Caller
from handoff.errors import CsrfRefused, Unauthorized

SESSION_COOKIE = "parley_session"
CSRF_COOKIE = "parley_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


def same_origin(request: Request) -> bool:
    """True when the browser's Origin header (if any) names this host. Non-browser clients
    send none; browsers always send it on cross-site POSTs and websocket handshakes."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


def check_origin(request: Request) -> None:
    if not same_origin(request):
        raise CsrfRefused("cross-origin request refused")


async def caller_of(request: Request) -> Caller:
    """The authenticated caller. Bearer tokens (REST API) need no CSRF token; cookie sessions
    must send the session's CSRF token in X-CSRF-Token on unsafe methods, from this origin."""
    auth = request.app.ctx.handoff.auth
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await auth.bearer(header[7:].strip())
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if not session_id:
        raise Unauthorized("please log in")
    caller, csrf = await auth.session(session_id)
    if request.method in UNSAFE:
        check_origin(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, csrf):
            raise CsrfRefused("missing or wrong CSRF token")
    return caller


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

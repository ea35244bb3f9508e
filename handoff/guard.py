"""Who is calling: the one request-authentication rule of every Parley console and API,
framework-free (plain header/cookie values in, a `Caller` out).

Why here and not in a separate ``accounts`` package: handoff owns Parley's accounts (the
``handoff_agents``/``handoff_tokens`` collections, the ``parley:handoff:session:*`` sessions,
the login page, password hashing and login rate limiting in `handoff.auth`). Broadcasts needs
only to *recognise* a caller, never to log one in, so it imports this rule, `Authenticator`,
`MongoAgentStore` and the roles from handoff's public surface (``handoff/__init__.py``), and a
login made on the agent console works on the marketer console (cookies are per host, not per
port). Splitting the account data out of its one owner would buy nothing but a third package
both services depend on. Each service's Sanic adapter reads the request and calls
`authenticate`; the CSRF/Origin and role rules are spelled only here.
"""
from __future__ import annotations

import hmac
from typing import AbstractSet, Optional
from urllib.parse import urlsplit

from handoff.access import Caller
from handoff.auth import Authenticator
from handoff.errors import CsrfRefused, Forbidden, Unauthorized
from handoff.models import Role

SESSION_COOKIE = "parley_session"
CSRF_COOKIE = "parley_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin(origin: Optional[str], host: str) -> bool:
    """True when the browser's Origin header (if any) names this host. Non-browser clients
    send none; browsers always send it on cross-site POSTs and websocket handshakes."""
    return origin is None or urlsplit(origin).netloc == host


def check_origin(origin: Optional[str], host: str) -> None:
    if not same_origin(origin, host):
        raise CsrfRefused("cross-origin request refused")


def check_roles(caller: Caller, roles: Optional[AbstractSet[Role]]) -> Caller:
    """403 unless the caller's role is in `roles` (None: any role)."""
    if roles is not None and caller.role not in roles:
        raise Forbidden("your role may not use this service")
    return caller


async def authenticate(auth: Authenticator, *, method: str, authorization: str,
                       session_cookie: str, csrf_header: str, origin: Optional[str], host: str,
                       roles: Optional[AbstractSet[Role]]) -> Caller:
    """The authenticated caller, or Unauthorized (401) / Forbidden (403). Bearer tokens (REST
    API) need no CSRF token; cookie sessions must send the session's CSRF token in
    X-CSRF-Token on unsafe methods, from this origin (double submit + Origin check)."""
    if authorization.lower().startswith("bearer "):
        return check_roles(await auth.bearer(authorization[7:].strip()), roles)
    if not session_cookie:
        raise Unauthorized("please log in")
    caller, csrf = await auth.session(session_cookie)
    if method.upper() in UNSAFE:
        check_origin(origin, host)
        if not csrf_header or not hmac.compare_digest(csrf_header, csrf):
            raise CsrfRefused("missing or wrong CSRF token")
    return check_roles(caller, roles)

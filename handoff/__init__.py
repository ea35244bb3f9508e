"""Parley's human-handoff service: the agent queue (MongoDB), named ticket transitions that
keep the Redis ownership record, and the live agent console.

Public surface: `create_app(settings)`, `Settings`, `HandoffService`, `Status`, the error tree,
and Parley's accounts, which handoff owns and broadcasts reuses (see `handoff.guard`):
`Authenticator`, `MongoAgentStore`, `Role`, `Caller`, `HANDOFF_ROLES`, `BROADCASTS_ROLES`,
`authenticate_request`, `add_security_headers` and `clear_session_cookies` (Sanic adapters,
imported lazily).
"""
from typing import AbstractSet, Any, Optional

from handoff.access import Caller
from handoff.auth import Authenticator
from handoff.errors import (ConflictError, CsrfRefused, Forbidden, HandoffError, InvalidTransition,
                            NotFound, Unauthorized)
from handoff.models import BROADCASTS_ROLES, HANDOFF_ROLES, Role
from handoff.service import HandoffService
from handoff.settings import Settings
from handoff.states import Status
from handoff.store import MongoAgentStore


def create_app(settings: Settings):  # type: ignore[no-untyped-def]
    """The Sanic app (imported lazily so the domain core never needs Sanic)."""
    from handoff.api import create_app as factory

    return factory(settings)


async def authenticate_request(request: Any, auth: Authenticator,
                               roles: Optional[AbstractSet[Role]]) -> Caller:
    """The caller of a Sanic request: session cookie (+ CSRF on writes) or bearer token, with a
    role in `roles`; raises Unauthorized (401) / Forbidden or CsrfRefused (403)."""
    from handoff.api.security import authenticate

    return await authenticate(request, auth, roles)


def add_security_headers(request: Any, response: Any) -> Any:
    """CSP, nosniff, frame and referrer headers; no-store on /api/ (a Sanic response hook)."""
    from handoff.api.security import add_security_headers as add

    return add(request, response)


def clear_session_cookies(response: Any, secure: bool) -> None:
    """Expire the console's session and CSRF cookies on `response` (a logout)."""
    from handoff.api.security import clear_session_cookies as clear

    clear(response, secure)


__all__ = ["BROADCASTS_ROLES", "Authenticator", "Caller", "ConflictError", "CsrfRefused", "Forbidden",
           "HANDOFF_ROLES", "HandoffError", "HandoffService", "InvalidTransition", "MongoAgentStore",
           "NotFound", "Role", "Settings", "Status", "Unauthorized", "add_security_headers",
           "authenticate_request", "clear_session_cookies", "create_app"]

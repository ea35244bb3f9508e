"""Who may call the broadcasts API: handoff's accounts (one login for both consoles, see
`handoff.guard`), limited to the roles in ``handoff.BROADCASTS_ROLES`` (admin, supervisor,
marketer). Deny by default: every route is authenticated unless its path is in `PUBLIC`
(`is_public`), so a new route is protected without anyone remembering to protect it.
"""
from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote, urlsplit

from sanic import Request
from sanic.response import HTTPResponse, redirect

from handoff import BROADCASTS_ROLES, Authenticator, MongoAgentStore, authenticate_request

from ..settings import Settings

#: Routes anyone may call: liveness, readiness, metrics (observability.http: no customer data),
#: the console page and its assets, the login redirect.
PUBLIC = frozenset({"/health", "/healthz", "/readyz", "/metrics", "/", "/login"})
PUBLIC_PREFIXES = ("/web/",)


def is_public(path: str) -> bool:
    """`path` is a route's path as registered (Sanic: no leading slash, e.g. ``api/contacts``)."""
    path = "/" + path.strip("/")
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def check_secret(settings: Settings) -> None:
    """Fail at start, clearly, without the accounts' secret."""
    if len(settings.secret_key) < 16:
        raise ValueError("HANDOFF_SECRET_KEY must be set (the same value as the handoff service's): "
                         "broadcasts recognises handoff's logins and API tokens by it")


def authenticator(settings: Settings, redis: Any, mongo: Any) -> Authenticator:
    return Authenticator(redis, MongoAgentStore(mongo[settings.accounts_db]), settings.secret_key)


async def require_caller(request: Request) -> Optional[HTTPResponse]:
    """Request middleware: 401/403 (raised, rendered by the app) unless the route is public."""
    route = request.route
    if route is None or is_public(route.path):
        return None
    request.ctx.caller = await authenticate_request(request, request.app.ctx.auth, BROADCASTS_ROLES)
    return None


def login_redirect(request: Request, settings: Settings) -> HTTPResponse:
    """To handoff's login page, which sends the browser back here afterwards (``next``)."""
    here = f"{request.scheme}://{request.host}/"
    login = settings.login_url or \
        f"{request.scheme}://{urlsplit(here).hostname}:{settings.handoff_port}/login"
    return redirect(f"{login}?next={quote(here, safe='')}")

"""The Sanic app factory: clients opened on start, background runtime, routes, web console.
Every route but the few in `security.PUBLIC` needs a handoff login or API token."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, file

from connectors.errors import WhatsAppError
from handoff import HandoffError, add_security_headers, clear_session_cookies
from observability.http import add_routes, instrument

from ..context import Context
from ..errors import BroadcastsError
from ..runtime import Runtime
from ..settings import Settings
from . import campaigns, contacts, monitoring, segments, templates, webhooks
from .common import out
from .security import authenticator, check_secret, login_redirect, require_caller

WEB = Path(__file__).resolve().parent.parent / "web"


def create_app(settings: Settings, *, name: str = "broadcasts", workers: int = 1, background: bool = True,
               sender: Optional[Any] = None) -> Sanic:
    check_secret(settings)
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 2 * 1024 ** 3  # CSV uploads are streamed to disk
    app.config.RESPONSE_TIMEOUT = 300
    app.ctx.tasks = set()

    @app.before_server_start
    async def open_clients(app: Sanic, _: Any) -> None:
        ctx = await Context.open(settings, sender=sender)
        await ctx.ensure_indexes()
        await ctx.ledger.resync_fast_path()
        app.ctx.bc = ctx
        app.ctx.auth = authenticator(settings, ctx.redis, ctx.mongo)
        app.ctx.runtime = Runtime(ctx, workers=workers if background else 0, consumer=background,
                                  scheduler=background)
        await app.ctx.runtime.start()

    @app.after_server_stop
    async def close_clients(app: Sanic, _: Any) -> None:
        await app.ctx.runtime.stop()
        for task in list(app.ctx.tasks):
            task.cancel()
        await app.ctx.bc.close()

    @app.exception(BroadcastsError)
    async def domain_error(request: Request, exc: BroadcastsError) -> HTTPResponse:
        return out({"error": str(exc), "kind": type(exc).__name__}, exc.status)

    @app.exception(HandoffError)
    async def auth_error(request: Request, exc: HandoffError) -> HTTPResponse:
        """401/403 of `require_caller` ("login" tells a client where to log in)."""
        return out({**exc.to_json(), "login": "/login"}, exc.status)

    @app.exception(WhatsAppError)
    async def whatsapp_error(request: Request, exc: WhatsAppError) -> HTTPResponse:
        return out({"error": str(exc), "kind": type(exc).__name__, "code": exc.code}, 502)

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return out({"ok": True, "queue_backlog": await app.ctx.bc.queue.backlog()})

    @app.get("/")
    async def index(request: Request) -> HTTPResponse:
        return await file(WEB / "index.html")

    @app.get("/login")
    async def login(request: Request) -> HTTPResponse:
        return login_redirect(request, settings)

    @app.post("/api/logout")
    async def logout(request: Request) -> HTTPResponse:
        """Handoff's logout from this origin (the console's CSP allows no other): the shared
        session is deleted, so both consoles are logged out; the API answers 401 afterwards."""
        await app.ctx.auth.logout(request.ctx.caller)
        response = out({"ok": True, "login": "/login"})
        # Cookies are per host, so this clears handoff's too; a Secure cookie is only
        # replaced over https. The deleted session is what logs out, the cookie is cosmetic.
        clear_session_cookies(response, secure=request.scheme == "https")
        return response

    instrument(app, "broadcasts")  # before require_caller: refused requests are timed too
    app.ctx.campaign_gauges = set()  # campaigns with progress gauges (monitoring.samplers)
    add_routes(app, "broadcasts", checks=lambda: monitoring.checks(app.ctx.bc),
               samplers=lambda: monitoring.samplers(app.ctx.bc, app.ctx.campaign_gauges))
    app.on_request(require_caller)
    app.on_response(add_security_headers)

    app.static("/web", str(WEB), name="web")
    for module in (contacts, segments, templates, campaigns, webhooks):
        app.blueprint(module.bp)
    return app

"""`create_app(settings)`: the handoff service's Sanic app (API, websocket, console)."""
from __future__ import annotations

import logging
from typing import Any, Optional

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from handoff.api import accounts, live, monitoring, pages, tickets
from handoff.api.context import AppContext
from handoff.api.security import add_security_headers
from handoff.errors import HandoffError, TooManyRequests
from handoff.settings import Settings
from observability.http import add_routes, instrument

log = logging.getLogger(__name__)


def create_app(settings: Settings, name: str = "parley_handoff") -> Sanic:
    app = Sanic(name)
    app.config.WEBSOCKET_PING_INTERVAL = 20
    app.config.KEEP_ALIVE_TIMEOUT = 30
    app.ctx.settings = settings
    instrument(app, "handoff")
    for bp in (tickets.bp, accounts.bp, live.bp, pages.bp):
        app.blueprint(bp)
    add_routes(app, "handoff", checks=lambda: monitoring.checks(app.ctx.handoff),
               samplers=lambda: monitoring.samplers(app.ctx.handoff))

    @app.before_server_start
    async def open_clients(app: Sanic) -> None:
        app.ctx.handoff = await AppContext.open(settings)
        app.ctx.handoff.start_background()

    @app.after_server_stop
    async def close_clients(app: Sanic) -> None:
        await app.ctx.handoff.close()

    @app.exception(HandoffError)
    async def handoff_error(request: Request, error: HandoffError) -> HTTPResponse:
        headers = {}
        if isinstance(error, TooManyRequests) and error.retry_after:
            headers["Retry-After"] = str(error.retry_after)
        return json(error.to_json(), status=error.status, headers=headers)

    @app.exception(ValueError)
    async def bad_value(request: Request, error: ValueError) -> HTTPResponse:
        return json({"error": "bad_request", "message": str(error)}, status=400)

    @app.on_response
    async def security_headers(request: Request, response: Optional[HTTPResponse]) -> Any:
        return add_security_headers(request, response)

    return app

"""The Sanic app factory: ``create_app(settings)``.

Routes only translate; every error becomes Meta's shape (Graph paths) or the sandbox's admin
shape (``/_sandbox``), never an HTML page and never an unhandled 500.
"""
from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from observability.http import add_routes, instrument

from .errors import AdminError, GraphError
from .routes import admin, graph, phones
from .routes.common import respond
from .settings import Settings
from .state import Sandbox

log = logging.getLogger("sandbox")


def create_app(settings: Settings, name: str = "parley_sandbox") -> Sanic:
    """Build the app; the Sandbox state lives in ``app.ctx.sandbox``."""
    app = Sanic(name, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_request_mb * 1024 * 1024
    app.config.ACCESS_LOG = False
    app.config.NOISY_EXCEPTIONS = False
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.KEEP_ALIVE_TIMEOUT = 75
    app.ctx.sandbox = Sandbox(settings)
    instrument(app, "sandbox")
    add_routes(app, "sandbox")  # /metrics (HTTP counters), /healthz, /readyz (nothing to check)
    graph.register(app)
    admin.register(app)
    phones.register(app)
    app.exception(Exception)(_handle_error)

    @app.before_server_start
    async def open_state(app: Sanic) -> None:
        await app.ctx.sandbox.start()
        log.info("sandbox ready: Graph API at %s/%s/%s/messages, phones at %s/",
                 settings.base_url, settings.api_version, settings.phone_number_id, settings.base_url)

    @app.before_server_stop
    async def close_state(app: Sanic) -> None:
        await app.ctx.sandbox.stop()

    return app


async def _handle_error(request: Request, exception: Exception) -> HTTPResponse:
    admin_path = request.path.startswith("/_sandbox") or request.path == "/"
    if isinstance(exception, (GraphError, AdminError)):
        return respond(exception.body(), exception.http_status)
    if isinstance(exception, SanicException):
        status = exception.status_code if 400 <= exception.status_code < 500 else 400
        if admin_path:
            return respond(AdminError(str(exception) or "bad request", status).body(), status)
        if status == 404:
            error = GraphError(100, f"Unknown path components: {request.path}", message="Unknown path components")
        else:
            error = GraphError(100, str(exception) or "Bad request.", http_status=status)
        return respond(error.body(), error.http_status)
    log.exception("unexpected error on %s %s", request.method, request.path)
    if admin_path:
        return respond(AdminError(f"internal error: {type(exception).__name__}", 500).body(), 500)
    return respond(GraphError(1, "Unexpected sandbox error.").body(), 500)

"""The virtual-phones page: static HTML/JS/CSS shipped in ``sandbox/web`` (no CDN)."""
from __future__ import annotations

from pathlib import Path

from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from ..errors import AdminError

WEB = Path(__file__).resolve().parent.parent / "web"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "phones.js": "text/javascript; charset=utf-8",
    "phones.css": "text/css; charset=utf-8",
}
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'"}


def register(app: Sanic) -> None:
    files = {name: (WEB / name).read_bytes() for name in ASSETS}

    @app.get("/", name="phones_index")
    async def index(request: Request) -> HTTPResponse:
        return raw(files["index.html"], content_type=ASSETS["index.html"], headers=_HEADERS)

    @app.get("/_sandbox/phones", name="phones_page")
    async def page(request: Request) -> HTTPResponse:
        return raw(files["index.html"], content_type=ASSETS["index.html"], headers=_HEADERS)

    @app.get("/favicon.ico", name="phones_favicon")
    async def favicon(request: Request) -> HTTPResponse:
        return HTTPResponse(status=204)

    @app.get("/_sandbox/static/<name>", name="phones_static")
    async def static(request: Request, name: str) -> HTTPResponse:
        if name not in files:
            raise AdminError(f"no such asset {name!r}", 404)
        return raw(files[name], content_type=ASSETS[name], headers=_HEADERS)

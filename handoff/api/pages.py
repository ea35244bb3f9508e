"""The console's pages and assets (plain HTML/CSS/JS in handoff/web, no CDN)."""
from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, redirect

WEB = Path(__file__).resolve().parent.parent / "web"
bp = Blueprint("pages")
bp.static("/static", str(WEB), name="assets")


@bp.get("/")
async def console(request: Request) -> HTTPResponse:
    return await file(WEB / "console.html", mime_type="text/html; charset=utf-8")


@bp.get("/login")
async def login_page(request: Request) -> HTTPResponse:
    return await file(WEB / "login.html", mime_type="text/html; charset=utf-8")


@bp.get("/analytics")
async def analytics_page(request: Request) -> HTTPResponse:
    return await file(WEB / "analytics.html", mime_type="text/html; charset=utf-8")


@bp.get("/logout")
async def logout_page(request: Request) -> HTTPResponse:
    return redirect("/login")

"""Run the handoff app in the test's event loop on a free port (no subprocess); log in to it
as an API client (`Agent`) or in a browser (`console_login`)."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace
from typing import Any, AsyncIterator, Dict, Optional

import httpx

from devstack import free_port
from handoff.api import create_app
from handoff.settings import Settings

SECRET = "test-secret-key-0123456789"


def settings_for(redis_url: str, mongo_url: str, mongo_db: str, **overrides: Any) -> Settings:
    base = Settings(secret_key=SECRET, port=free_port(), redis_url=redis_url,
                    mongodb_url=mongo_url, mongodb_db=mongo_db, graph_base_url="http://127.0.0.1:9",
                    access_token="sandbox-token", phone_number_id="100000000000001",
                    waba_id="200000000000001", bot_resume="off", queue_timeout_minutes=0,
                    admin_email="admin@example.com", admin_password="admin-password",
                    consumer_name="test", argon2_memory_kib=1024, argon2_time_cost=1)
    return replace(base, **overrides)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Any]:
    """Yields the app, serving at http://127.0.0.1:{settings.port}."""
    app = create_app(settings, name=f"handoff_{uuid.uuid4().hex[:8]}")
    app.config.TOUCHUP = False  # Sanic's TouchUp cannot rewrite its class twice in one process
    server = await app.create_server(host="127.0.0.1", port=settings.port,
                                     return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield app
    finally:
        for step in (server.before_stop, _close(server), server.after_stop):
            try:
                await asyncio.wait_for(step(), 20)
            except asyncio.TimeoutError:
                print("TEARDOWN STEP TIMED OUT", step)
                raise


def _close(server: Any) -> Any:
    async def close() -> None:
        server.close()
        await server.wait_closed()
    return close


class Agent:
    """A logged-in console user: cookies plus the CSRF header, like the browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=15.0)
        self.csrf = ""
        self.id = ""

    async def login(self, email: str, password: str) -> httpx.Response:
        response = await self.http.post("/api/login", json={"email": email, "password": password})
        if response.status_code == 200:
            self.csrf = response.json()["csrf"]
            self.id = response.json()["agent"]["id"]
        return response

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def post(self, path: str, body: Optional[Dict[str, Any]] = None,
                   csrf: Optional[str] = None, **kw: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf, **kw.pop("headers", {})}
        return await self.http.post(path, json=body or {}, headers=headers, **kw)

    async def aclose(self) -> None:
        await self.http.aclose()


def console_login(browser: Any, base_url: str, email: str, password: str) -> Any:
    """A new browser context logged in to the agent console, its live feed connected. Any
    script dialog (an injected alert) fails the test."""
    page = browser.new_context().new_page()
    page.on("dialog", lambda dialog: (_ for _ in ()).throw(
        AssertionError("a script ran: " + dialog.message)))
    page.goto(base_url + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-button")
    page.wait_for_selector("#connection.ok", timeout=10_000)
    return page

"""Test harness: the real inbound pipeline (webhook -> connectors.ingest -> connectors.consumer -> events stream) and a
running broadcasts Context + Runtime wired to the sandbox."""
from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from typing import Any, AsyncIterator, Dict, List, Optional

import httpx
from aiohttp import web

from broadcasts.context import Context
from broadcasts.runtime import Runtime
from broadcasts.settings import Settings
from connectors.consumer import Consumer, ConsumerOptions
from connectors.ingest import GroupCommitAppender, receive
from connectors.routing import Router
from devstack import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Pipeline:
    """Signed webhooks from the sandbox -> the connectors' inbound pipeline -> parley:events."""

    def __init__(self, redis: Any, app_secret: str, verify_token: str) -> None:
        self.redis, self.secret, self.verify = redis, app_secret, verify_token
        self.appender = GroupCommitAppender(redis)
        self.consumer = Consumer(redis, Router(redis, self._bot), ConsumerOptions(partitions=2, tick_s=0.2,
                                                                                  block_ms=100))
        self.runner: Optional[web.AppRunner] = None
        self.url = ""

    async def _bot(self, bot_input: Any) -> None:
        return None

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = await receive(self.appender, self.secret, body, request.headers.get("X-Hub-Signature-256"))
        return web.Response(status=status)

    async def _get(self, request: web.Request) -> web.Response:
        if request.query.get("hub.verify_token") == self.verify:
            return web.Response(text=request.query.get("hub.challenge", ""))
        return web.Response(status=403)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/webhook", self._post)
        app.router.add_get("/webhook", self._get)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        await self.consumer.start()
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self.url

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.appender.close()
        if self.runner is not None:
            await self.runner.cleanup()


class Sandbox:
    """Async helpers over the sandbox's admin API."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.http = httpx.AsyncClient(base_url=info.url, timeout=10)

    async def config(self, **values: Any) -> None:
        (await self.http.patch("/_sandbox/config", json=values)).raise_for_status()

    async def outbox(self, to: str = "") -> List[Dict[str, Any]]:
        response = await self.http.get("/_sandbox/outbox", params={"to": to} if to else None)
        return response.json()["messages"]

    async def say(self, wa_id: str, message: Dict[str, Any]) -> str:
        response = await self.http.post(f"/_sandbox/customers/{wa_id}/messages", json=message)
        response.raise_for_status()
        return response.json()["wamid"]

    async def template_status(self, template_id: str, status: str) -> None:
        (await self.http.post(f"/_sandbox/templates/{template_id}/status", json={"status": status})).raise_for_status()

    async def close(self) -> None:
        await self.http.aclose()


def service_settings(base: Settings, info: Any, **overrides: Any) -> Settings:
    values = dict(graph_url=info.graph_url, access_token=info.access_token, phone_number_id=info.phone_number_id,
                  waba_id=info.waba_id, maintenance_seconds=0.3, reminder_seconds=0.3, send_lease_seconds=5.0)
    values.update(overrides)
    return Settings(**{**base.__dict__, **values})


async def open_service(settings: Settings, workers: int = 1, scheduler: bool = True) -> "tuple[Context, Runtime]":
    ctx = await Context.open(settings)
    await ctx.ensure_indexes()
    await ctx.templates.sync()
    runtime = Runtime(ctx, workers=workers, scheduler=scheduler)
    await runtime.start()
    return ctx, runtime


def worker_process(settings: Settings, name: str, *args: str, **env: str) -> subprocess.Popen:
    """``python -m broadcasts worker *args`` as consumer ``name`` on ``settings``' stores and Graph
    API (the sandbox); ``env`` adds or overrides variables."""
    base, version = settings.graph_url.rsplit("/", 1)
    variables = dict(os.environ, REDIS_URL=settings.redis_url, MONGODB_URL=settings.mongo_url,
                     BROADCASTS_MONGO_DB=settings.mongo_db, GRAPH_BASE_URL=base, GRAPH_VERSION=version,
                     WHATSAPP_ACCESS_TOKEN=settings.access_token, WHATSAPP_PHONE_NUMBER_ID=settings.phone_number_id,
                     WHATSAPP_WABA_ID=settings.waba_id, BROADCASTS_QUEUE_RECLAIM_MS="2000",
                     BROADCASTS_LOG_LEVEL="WARNING", BROADCASTS_CONSUMER=name)
    return subprocess.Popen([sys.executable, "-m", "broadcasts", "worker", *args], cwd=ROOT,
                            env={**variables, **env})


async def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


SECRET = "broadcasts-test-secret-0123456789"


class Accounts:
    """Handoff's accounts, as the broadcasts API sees them: people with a role, their bearer
    tokens and console sessions (cheap argon2 parameters)."""

    def __init__(self, redis: Any, db: Any) -> None:
        from handoff import Authenticator, MongoAgentStore
        from handoff.auth import Passwords
        self.auth = Authenticator(redis, MongoAgentStore(db), SECRET, passwords=Passwords(1024, 1))

    async def token(self, role: str) -> str:
        await self._person(role)
        return await self.auth.issue_token(role, "test")

    async def session(self, role: str) -> "tuple[str, str]":
        """(session cookie value, csrf token) of a fresh login."""
        await self._person(role)
        _, session_id, csrf = await self.auth.login(f"{role}@example.com", "password-123", "127.0.0.1")
        return session_id, csrf

    async def _person(self, role: str) -> None:
        from handoff import Role
        if await self.auth._agents.get(role) is None:  # noqa: SLF001 - test helper
            await self.auth.create_agent(role, f"{role}@example.com", role, Role(role), "password-123")


@contextlib.asynccontextmanager
async def serve(settings: Settings, **app_options: Any) -> AsyncIterator[Any]:
    """The broadcasts app (`create_app`) on a free port; yields (base URL, app)."""
    import uuid

    from broadcasts.api.app import create_app
    app = create_app(settings, name=f"bc{uuid.uuid4().hex[:8]}", **app_options)
    app.config.TOUCHUP = False  # Sanic's TouchUp fails on a second app in one process
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()

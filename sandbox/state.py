"""The sandbox's one state object: settings, runtime config, stores, limiters, timers, webhooks.

Framework-free; the Sanic app keeps one ``Sandbox`` in ``app.ctx`` and routes call the action
modules (``outbound``, ``inbound``, ``template_admin``) with it.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections import deque

import aiohttp

from .config import RuntimeConfig
from .envelopes import metadata
from .handshake import HandshakeResult, verify_callback
from .ratelimit import PairLimiter, ThroughputLimiter
from .scheduler import Tasks, Timers
from .settings import Settings
from .store import Store
from .templates import TemplateRegistry
from .webhooks import WebhookDispatcher
from .window import CustomerWindows

log = logging.getLogger("sandbox")


class Sandbox:
    """Everything one running sandbox knows."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = RuntimeConfig.from_settings(settings)
        self.rng = random.Random(settings.seed)
        self.store = Store(settings.history_limit)
        self.windows = CustomerWindows()
        self.throughput = ThroughputLimiter()
        self.pairs = PairLimiter()
        self.templates = TemplateRegistry()
        self.timers = Timers()
        self.tasks = Tasks()
        self.generation = 0
        self.handshakes: deque[HandshakeResult] = deque(maxlen=20)
        self.metadata = metadata(settings.display_phone_number, settings.phone_number_id)
        self.webhooks = WebhookDispatcher(
            self.config, settings.waba_id, self.timers, self.rng,
            concurrency=settings.webhook_concurrency, timeout_s=settings.webhook_timeout_ms / 1000,
            history_limit=settings.history_limit,
        )
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def now() -> float:
        return time.time()

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    async def start(self) -> None:
        """Open the HTTP client, start the delivery workers and the start-up handshake."""
        concurrency = max(1, self.settings.webhook_concurrency)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency + 2, limit_per_host=concurrency + 2),
        )
        await self.webhooks.start(self._session)
        if self.config.webhook_url:
            self.start_handshake()

    async def stop(self) -> None:
        """Cancel every timer and task, then close the HTTP client."""
        self.timers.cancel_all()
        await self.tasks.cancel_all()
        await self.webhooks.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reset(self) -> None:
        """Back to the start: messages, windows, webhook log, templates, config."""
        self.generation += 1
        self.timers.cancel_all()
        fresh = RuntimeConfig.from_settings(self.settings)
        for item in dataclasses.fields(fresh):
            setattr(self.config, item.name, getattr(fresh, item.name))
        self.store.clear()
        self.windows.clear()
        self.throughput.clear()
        self.pairs.clear()
        self.templates.seed()
        self.webhooks.clear()
        self.handshakes.clear()

    def start_handshake(self) -> None:
        """Verify the configured callback URL as Meta's dashboard does (never blocks, never raises)."""
        if self._session is None or not self.config.webhook_url:
            return
        self.tasks.spawn(self._handshake(self.config.webhook_url, self.config.verify_token, self.generation),
                         name="handshake")

    async def _handshake(self, url: str, verify_token: str, generation: int) -> None:
        assert self._session is not None
        result = await verify_callback(
            self._session, url, verify_token,
            attempts=self.settings.handshake_attempts, retry_s=self.settings.handshake_retry_ms / 1000,
            timeout_s=self.settings.webhook_timeout_ms / 1000,
        )
        if generation == self.generation:
            self.handshakes.append(result)
        if result.ok:
            log.info("webhook verification handshake with %s succeeded", url)
        else:
            log.warning("webhook verification handshake with %s failed after %d attempt(s): %s",
                        url, result.attempts, result.error or f"HTTP {result.status}")

"""Webhook delivery: one queue, a fixed pool of workers, retries with backoff, chaos.

Each POST is a ``Delivery`` (exact bytes + signature) whose every attempt is recorded. Any
answer other than 200 (or a network error/timeout) is retried after
``base * 2**(attempt-1)`` milliseconds, capped, up to ``webhook_max_attempts`` (Meta retries
for 7 days; the sandbox compresses time). Chaos: ``batch`` merges queued notifications into
one POST (held for ``BATCH_WINDOW_S``), ``duplicate`` posts the same body twice. A reset bumps the generation so stale
deliveries and retries are dropped.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, List, Union

import aiohttp

from . import envelopes
from .config import RuntimeConfig
from .envelopes import Notification
from .scheduler import Tasks, Timers

log = logging.getLogger("sandbox.webhooks")
BATCH_WINDOW_S = 0.05
BATCH_MAX = 100


@dataclass
class Attempt:
    status: int | None
    at: float
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at, "error": self.error}


@dataclass
class Delivery:
    """One webhook POST and its attempts."""

    id: str
    url: str
    raw: bytes
    signature: str
    generation: int
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "body": json.loads(self.raw), "raw": self.raw.decode("ascii"),
            "signature": self.signature, "delivered": self.delivered,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
        }


_Item = Union[List[Notification], Delivery]


class WebhookDispatcher:
    """Queue + workers. ``notify`` is sync and cheap; the HTTP work happens in the workers."""

    def __init__(self, config: RuntimeConfig, waba_id: str, timers: Timers, rng: random.Random,
                 *, concurrency: int, timeout_s: float, history_limit: int) -> None:
        self._config = config
        self._waba_id = waba_id
        self._timers = timers
        self._rng = rng
        self._concurrency = max(1, concurrency)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._generation = 0
        self._session: aiohttp.ClientSession | None = None
        self._workers = Tasks()
        self._batch: list[Notification] = []
        self.deliveries: deque[Delivery] = deque(maxlen=max(100, history_limit))

    async def start(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        for number in range(self._concurrency):
            self._workers.spawn(self._work(), name=f"webhook-worker-{number}")

    async def stop(self) -> None:
        await self._workers.cancel_all()

    def clear(self) -> None:
        """Forget queued work and the delivery log (reset)."""
        self._generation += 1
        self._batch = []
        while not self._queue.empty():
            self._queue.get_nowait()
        self.deliveries.clear()

    def notify(self, notification: Notification) -> None:
        """Queue one change for delivery (dropped when no webhook URL is configured)."""
        if not self._config.webhook_url:
            return
        if self._config.chaos.batch and self._rng.random() < self._config.chaos.batch:
            # Chaos batch: hold it for a moment so later notifications share its POST.
            if not self._batch:
                self._timers.call_later(BATCH_WINDOW_S, self._flush_batch, self._generation)
            self._batch.append(notification)
            if len(self._batch) >= BATCH_MAX:
                self._flush_batch(self._generation)
            return
        self._queue.put_nowait([notification])

    def _flush_batch(self, generation: int) -> None:
        batch, self._batch = self._batch, []
        if batch and generation == self._generation:
            self._queue.put_nowait(batch)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, list):
                    await self._deliver_new(item)
                else:
                    await self._attempt(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook worker error")

    async def _deliver_new(self, notifications: list[Notification]) -> None:
        url = self._config.webhook_url
        if not url:
            return
        raw = envelopes.encode(envelopes.envelope(self._waba_id, notifications))
        delivery = self._new_delivery(url, raw)
        if self._config.chaos.duplicate and self._rng.random() < self._config.chaos.duplicate:
            self._queue.put_nowait(self._new_delivery(url, raw, delivery.signature))
        await self._attempt(delivery)

    def _new_delivery(self, url: str, raw: bytes, signature: str | None = None) -> Delivery:
        delivery = Delivery(
            id=str(next(self._ids)), url=url, raw=raw,
            signature=signature or envelopes.sign(self._config.app_secret, raw), generation=self._generation,
        )
        self.deliveries.append(delivery)
        return delivery

    async def _attempt(self, delivery: Delivery) -> None:
        if delivery.generation != self._generation or self._session is None:
            return
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(
                delivery.url, data=delivery.raw, timeout=self._timeout,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": delivery.signature,
                         "User-Agent": "facebookexternalua"},
            ) as response:
                status = response.status
                await response.read()
        except asyncio.TimeoutError:
            error = "timeout"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        if delivery.generation != self._generation:
            return
        delivery.attempts.append(Attempt(status, time.time(), error))
        if status == 200:
            delivery.delivered = True
            return
        attempts = len(delivery.attempts)
        if attempts >= max(1, self._config.webhook_max_attempts):
            log.warning("webhook %s to %s given up after %d attempts", delivery.id, delivery.url, attempts)
            return
        self._timers.call_later(self.backoff_s(attempts), self._queue.put_nowait, delivery)

    def backoff_s(self, attempts: int) -> float:
        base = self._config.webhook_retry_base_ms / 1000
        cap = self._config.webhook_retry_cap_ms / 1000
        return min(cap, base * 2 ** (attempts - 1))

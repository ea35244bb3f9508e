"""The webhook sender loop: claims due outbox deliveries and POSTs them, signed.

Concurrency is bounded twice: ``concurrency`` attempts in flight per process, and at most
``per_endpoint`` of them for one subscription, so a slow or hanging CRM occupies a few slots
and the others keep flowing. Every attempt has a timeout; redirects are not followed. Any
number of processes may run this loop (claims are atomic, see outbox.py).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any, Dict, Mapping, Optional, Set, Tuple

import aiohttp

from ..contacts import utcnow
from . import signing
from .outbox import DeliveryState, Outbox
from .retry import RetryPolicy, retry_after_seconds
from .subscriptions import SubscriptionStore

log = logging.getLogger(__name__)
LEASE_MARGIN_S = 10.0  # a claimed attempt becomes due again this long after its timeout


class WebhookSender:
    def __init__(self, subscriptions: SubscriptionStore, outbox: Outbox, policy: RetryPolicy, *,
                 timeout: float = 5.0, concurrency: int = 32, per_endpoint: int = 4, poll: float = 0.5,
                 session: Optional[aiohttp.ClientSession] = None) -> None:
        self.subscriptions, self.outbox, self.policy = subscriptions, outbox, policy
        self.timeout, self.concurrency, self.per_endpoint, self.poll = timeout, concurrency, per_endpoint, poll
        self.session = session
        self.inflight: Set[asyncio.Task] = set()
        self.busy: Counter = Counter()  # subscription id -> attempts in flight
        self.freed = asyncio.Event()  # an attempt ended: a slot may be free for a waiting delivery

    async def run(self, stop: asyncio.Event) -> None:
        own = self.session is None
        session = self.session or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency))
        try:
            while not stop.is_set():
                self.freed.clear()
                if not await self.tick(session):
                    await self._idle(stop)
        finally:
            for task in list(self.inflight):
                task.cancel()  # a cancelled attempt is due again when its lease ends
            await asyncio.gather(*self.inflight, return_exceptions=True)
            if own:
                await session.close()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until the next poll, a freed slot or stop."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.freed.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def tick(self, session: aiohttp.ClientSession) -> int:
        """Start attempts for due deliveries while slots are free; returns how many started."""
        free = self.concurrency - len(self.inflight)
        if free <= 0:
            return 0
        full = [sid for sid, n in self.busy.items() if n >= self.per_endpoint]
        due = await self.outbox.due(free * 2, [*full, *await self.subscriptions.inactive_ids()])
        subs = await self.subscriptions.with_secrets(sorted({d["subscription_id"] for d in due}))
        started = 0
        lease_until = utcnow() + timedelta(seconds=self.timeout + LEASE_MARGIN_S)
        for doc in due:
            sid = doc["subscription_id"]
            if len(self.inflight) >= self.concurrency or self.busy[sid] >= self.per_endpoint \
                    or not await self.outbox.claim(doc, lease_until):
                continue
            self.busy[sid] += 1
            task = asyncio.create_task(self.attempt(session, doc, subs.get(sid)))
            self.inflight.add(task)
            task.add_done_callback(lambda t, d=doc: self._done(t, d))
            started += 1
        return started

    def _done(self, task: asyncio.Task, doc: Mapping[str, Any]) -> None:
        self.inflight.discard(task)
        self.freed.set()
        self.busy[doc["subscription_id"]] -= 1
        if self.busy[doc["subscription_id"]] <= 0:
            del self.busy[doc["subscription_id"]]
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery %s: attempt crashed", doc["_id"], exc_info=task.exception())

    async def attempt(self, session: aiohttp.ClientSession, doc: Mapping[str, Any],
                      subscription: Optional[Mapping[str, Any]]) -> DeliveryState:
        """POST one claimed delivery and record the outcome."""
        number = int(doc["attempts"]) + 1
        if subscription is None:
            await self.outbox.record(doc["_id"], number, DeliveryState.FAILED, status=None,
                                     error="subscription deleted", ms=0)
            return DeliveryState.FAILED
        started = time.monotonic()
        status, error, retry_after = await self.post(session, doc, subscription)
        state, wait = self.policy.outcome(status, number, retry_after)
        ms = int((time.monotonic() - started) * 1000)
        next_at = utcnow() + timedelta(seconds=wait) if wait is not None else None
        await self.outbox.record(doc["_id"], number, state, status=status, error=error, ms=ms, next_attempt_at=next_at)
        level = logging.INFO if state in (DeliveryState.DELIVERED, DeliveryState.PENDING) else logging.WARNING
        log.log(level, "webhook %s to subscription %s, attempt %d: %s -> %s", doc["_id"], subscription["_id"],
                number, error or status, state.value)
        return state

    async def post(self, session: aiohttp.ClientSession, doc: Mapping[str, Any],
                   subscription: Mapping[str, Any]) -> Tuple[Optional[int], str, Optional[float]]:
        """(HTTP status or None, error text, Retry-After seconds) of one POST."""
        body = doc["body"].encode()
        headers: Dict[str, str] = signing.headers(subscription["secret"], int(time.time()), body, doc["type"],
                                                  doc["_id"])
        try:
            async with session.post(subscription["url"], data=body, headers=headers, allow_redirects=False,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                await response.content.read(64 * 1024)  # drain a little so the connection can be reused
                error = "" if 200 <= response.status < 300 else f"HTTP {response.status}"
                return response.status, error, retry_after_seconds(response.headers.get("Retry-After"))
        except asyncio.TimeoutError:
            return None, f"timeout after {self.timeout:g} s", None
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300], None

"""Send workers: read the campaign queue (consumer group) and send through the shared Sender.

Per entry: pace (campaign rate, shared in Redis) -> check the campaign is running (Redis, so a
pause or cancel stops sends within one message) -> check the sending window -> claim the record
(pending -> sending, atomic) -> send -> record accepted/failed/skipped. Any number of worker
processes can run; a record is sent by the one that claims it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, Set, Tuple

from connectors import errors as wa_errors

from ..templates import build_payload
from .pacing import Pacer
from .queue import CampaignQueue, Entry
from .recipients import record_id
from .state import RecipientState as R
from .window import in_window

log = logging.getLogger(__name__)
CACHE_SECONDS = 2.0


class Worker:
    def __init__(self, ctx: Any, name: str, concurrency: int = 64, purpose: Any = "campaign") -> None:
        self.ctx, self.name, self.purpose = ctx, name, purpose
        self.queue = CampaignQueue(ctx.redis)
        self.pacer = Pacer(ctx.redis)
        self.slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.tasks: Set[asyncio.Task] = set()
        self._cache: Dict[str, Tuple[float, Dict[str, Any], Dict[str, Any]]] = {}
        self.sent = 0

    async def run(self, stop: asyncio.Event, reclaim_idle_ms: int = 30_000) -> None:
        await self.queue.ensure_groups()
        last_reclaim = 0.0
        try:
            while not stop.is_set():
                entries = []
                if time.monotonic() - last_reclaim > reclaim_idle_ms / 2000:
                    last_reclaim = time.monotonic()
                    entries = await self.queue.reclaim(self.name, reclaim_idle_ms)
                if not entries:
                    entries = await self.queue.read(self.name, count=self.concurrency, block_ms=200)
                for entry in entries:
                    await self.slots.acquire()
                    task = asyncio.create_task(self._guarded(entry))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
        finally:
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _guarded(self, entry: Entry) -> None:
        try:
            await self.handle(entry)
        except Exception:  # noqa: BLE001 - one bad entry must not stop the worker; lease recovery retries it
            log.exception("worker %s: entry %s failed", self.name, entry)
        finally:
            self.slots.release()

    async def _campaign(self, campaign_id: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        hit = self._cache.get(campaign_id)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1], hit[2]
        campaign = await self.ctx.campaigns.get(campaign_id)
        template = await self.ctx.templates.get(campaign["template_id"])
        self._cache[campaign_id] = (time.monotonic(), campaign, template)
        return campaign, template

    async def handle(self, entry: Entry) -> None:
        priority, entry_id, campaign_id, wa_id = entry
        rid = record_id(campaign_id, wa_id)
        if await self.ctx.campaigns.control(campaign_id) != "running":
            await self.queue.ack(priority, entry_id)  # resume re-enqueues what is still pending
            return
        campaign, template = await self._campaign(campaign_id)
        wait = await self.pacer.reserve(campaign_id, float(campaign.get("rate") or self.ctx.settings.default_rate))
        if wait > 0:
            await asyncio.sleep(wait)
            if await self.ctx.campaigns.control(campaign_id) != "running":  # paused while we waited
                await self.queue.ack(priority, entry_id)
                return
        if not in_window(campaign):
            await self._pause_for_window(campaign_id)
            await self.queue.ack(priority, entry_id)
            return
        record = await self.ctx.recipients.claim(rid, self.name)
        if record is None:
            await self.queue.ack(priority, entry_id)  # already sent, or being sent by another worker
            return
        await self._send(campaign_id, rid, record, template)
        await self.queue.ack(priority, entry_id)

    async def _send(self, campaign_id: str, rid: str, record: Dict[str, Any], template: Dict[str, Any]) -> None:
        category = record.get("category") or template.get("category") or "marketing"
        try:
            payload = build_payload(template, record.get("values") or {})
            result = await self.ctx.sender.send("+" + record["wa_id"], payload, purpose=self.purpose,
                                                category=category, by=f"campaign:{campaign_id}", callback_data=rid)
        except wa_errors.ConsentRefused as exc:
            await self._failed(campaign_id, rid, exc, R.SKIPPED)
            return
        except wa_errors.WhatsAppError as exc:
            await self._failed(campaign_id, rid, exc, R.FAILED)
            return
        await self.ctx.recipients.accept(rid, result.wamid)
        self.sent += 1
        if await self.ctx.recipients.reach(rid, ["sent"]):
            await self.ctx.campaigns.inc(campaign_id, {"stats.sent": 1})

    async def _failed(self, campaign_id: str, rid: str, exc: wa_errors.WhatsAppError, state: R) -> None:
        error = exc.to_dict()
        transient = exc.is_transient or isinstance(exc, wa_errors.EcosystemLimited)
        if await self.ctx.recipients.fail(rid, error, transient, state):
            await self.ctx.campaigns.inc(campaign_id, {f"stats.{state.value}": 1})

    async def _pause_for_window(self, campaign_id: str) -> None:
        try:
            await self.ctx.service.pause(campaign_id, reason="window")
        except Exception:  # noqa: BLE001 - another worker paused it first
            pass
        self._cache.pop(campaign_id, None)


def make_purpose() -> Any:
    """The sender's CAMPAIGN purpose (imported lazily: connectors.sender pulls in aiohttp)."""
    from connectors.sender import Purpose
    return Purpose.CAMPAIGN

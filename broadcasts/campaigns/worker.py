"""Send workers: read the campaign queue (consumer group) in batches and send through the shared Sender.

Per batch of queue entries of one campaign: check the campaign is running (Redis) and inside
its sending window -> claim the records (pending -> sending, one conditional update for the
batch; only the records this worker won are sent) -> read their consent in one query -> book
their pacing slots (one Redis call; the campaign rate is shared by every worker) -> send each at
its slot, re-checking the campaign state first (cached for at most CONTROL_SECONDS, so a pause
or cancel stops sends within a fraction of a second) -> hand the outcome to the group-commit
writer (campaigns.outcomes), which records it and only then acknowledges the entry.

Any number of worker processes can run; a record is sent by the one that claims it.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from itertools import groupby
from typing import Any, Dict, List, Set, Tuple

from connectors import errors as wa_errors

from .. import keys
from ..templates import build_payload
from .commit import heartbeat
from .outcomes import Kind, Outcome, OutcomeWriter
from .pacing import Pacer, campaign_rate
from .queue import CampaignQueue, Entry
from .recipients import record_id
from .window import in_window

log = logging.getLogger(__name__)
CACHE_SECONDS = 2.0
#: How stale a worker's view of a campaign's state may be before a send (pause/cancel latency).
CONTROL_SECONDS = 0.25
#: Batches being claimed at once (claims are store round trips: overlap them with the sends).
CLAIMS_IN_FLIGHT = 4
#: Stop reading new entries while this many outcomes wait to be written (MongoDB slow or down).
MAX_WRITE_BACKLOG = 5000


class Worker:
    def __init__(self, ctx: Any, name: str, concurrency: int = 64, purpose: Any = "campaign") -> None:
        self.ctx, self.name, self.purpose = ctx, name, purpose
        #: Who claims records: the name plus this run, so a worker restarted under the same name
        #: (a fixed BROADCASTS_CONSUMER) does not keep its dead predecessor's claims alive.
        self.claimant = f"{name}/{uuid.uuid4().hex[:8]}"
        self.queue = CampaignQueue(ctx.redis)
        self.pacer = Pacer(ctx.redis)
        self.writer = OutcomeWriter(ctx.recipients, ctx.campaigns, self.queue, owner=self.claimant)
        self.slots = asyncio.Semaphore(concurrency)
        self.claiming = asyncio.Semaphore(CLAIMS_IN_FLIGHT)
        self.concurrency = concurrency
        self.tasks: Set[asyncio.Task] = set()
        self._cache: Dict[str, Tuple[float, Dict[str, Any], Dict[str, Any]]] = {}
        self._control: Dict[str, Tuple[float, str]] = {}
        self.sent = 0

    async def run(self, stop: asyncio.Event, reclaim_idle_ms: int = 30_000) -> None:
        await self.queue.ensure_groups()
        writer = asyncio.create_task(self.writer.run())
        # Say this worker is alive while it runs, so maintenance leaves its claims alone: a record
        # stays ``sending`` while its outcome waits in the writer (a slow or absent MongoDB), and
        # re-sending it then would send twice. Only a dead worker's claims expire after the lease.
        alive = asyncio.create_task(heartbeat(self.ctx.redis, self.claimant, stop))
        last_reclaim = 0.0
        try:
            while not stop.is_set():
                if self.writer.backlog > MAX_WRITE_BACKLOG:
                    await asyncio.sleep(0.05)
                    continue
                entries: List[Entry] = []
                if time.monotonic() - last_reclaim > reclaim_idle_ms / 2000:
                    last_reclaim = time.monotonic()
                    entries = await self.queue.reclaim(self.name, reclaim_idle_ms)
                if not entries:
                    entries = await self.queue.read(self.name, count=self.concurrency, block_ms=200)
                for campaign_id, group in groupby(entries, key=lambda e: e[2]):
                    await self.claiming.acquire()
                    self._track(self._dispatch_guarded(campaign_id, list(group)))
        finally:
            while self.tasks:  # dispatches still starting sends
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
            self.writer.close()
            await writer
            alive.cancel()
            await asyncio.gather(alive, return_exceptions=True)
            await self.ctx.redis.delete(keys.worker_alive(self.claimant))

    def _track(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _dispatch_guarded(self, campaign_id: str, entries: List[Entry]) -> None:
        try:
            await self.dispatch(campaign_id, entries)
        except Exception:  # noqa: BLE001 - a store error: the entries stay unacknowledged and are reclaimed
            log.exception("worker %s: a batch of campaign %s failed", self.name, campaign_id)
        finally:
            self.claiming.release()

    async def dispatch(self, campaign_id: str, entries: List[Entry]) -> None:
        """Claim a batch of one campaign's entries and start their sends (bounded by ``concurrency``)."""
        if await self._state(campaign_id, fresh=True) != "running":
            self._done(campaign_id, entries)  # resume re-enqueues what is still pending
            return
        campaign, template = await self._campaign(campaign_id)
        if not in_window(campaign):
            await self._pause_for_window(campaign_id)
            self._done(campaign_id, entries)
            return
        by_rid = {record_id(campaign_id, e[3]): e for e in entries}
        records = await self.ctx.recipients.claim_many(list(by_rid), self.claimant)
        claimed = {r["_id"] for r in records}
        self._done(campaign_id, [e for rid, e in by_rid.items() if rid not in claimed])  # sent or taken elsewhere
        if not records:
            return
        category = records[0].get("category") or template.get("category") or "marketing"
        await self.ctx.ledger.prefetch([r["wa_id"] for r in records], category)
        rate = campaign_rate(campaign, self.ctx.settings.default_rate)
        start = time.monotonic()
        for record, wait in zip(records, await self.pacer.reserve(campaign_id, rate, len(records))):
            await self.slots.acquire()
            self._track(self._send_at(start + wait, campaign_id, by_rid[record["_id"]], record, template))

    async def _send_at(self, due: float, campaign_id: str, entry: Entry, record: Dict[str, Any],
                       template: Dict[str, Any]) -> None:
        try:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if await self._state(campaign_id) != "running":
                self.writer.add(Outcome(Kind.RELEASED, campaign_id, record["_id"], _queued(entry)))
                return
            self.writer.add(await self._send(campaign_id, entry, record, template))
        except Exception:  # noqa: BLE001 - one bad send must not stop the worker; lease recovery retries it
            log.exception("worker %s: send of %s failed", self.name, record["_id"])
        finally:
            self.slots.release()

    async def _send(self, campaign_id: str, entry: Entry, record: Dict[str, Any],
                    template: Dict[str, Any]) -> Outcome:
        rid, queued = record["_id"], _queued(entry)
        category = record.get("category") or template.get("category") or "marketing"
        try:
            payload = build_payload(template, record.get("values") or {})
            result = await self.ctx.sender.send("+" + record["wa_id"], payload, purpose=self.purpose,
                                                category=category, by=f"campaign:{campaign_id}", callback_data=rid)
        except wa_errors.ConsentRefused as exc:
            return Outcome(Kind.SKIPPED, campaign_id, rid, queued, error=exc.to_dict())
        except wa_errors.WhatsAppError as exc:
            transient = exc.is_transient or isinstance(exc, wa_errors.EcosystemLimited)
            return Outcome(Kind.FAILED, campaign_id, rid, queued, error=exc.to_dict(), transient=transient)
        self.sent += 1
        return Outcome(Kind.ACCEPTED, campaign_id, rid, queued, wamid=result.wamid)

    def _done(self, campaign_id: str, entries: List[Entry]) -> None:
        for entry in entries:
            self.writer.add(Outcome(Kind.DONE, campaign_id, "", _queued(entry)))

    async def _state(self, campaign_id: str, fresh: bool = False) -> str:
        """The campaign's state as workers see it (Redis), cached for CONTROL_SECONDS."""
        hit = self._control.get(campaign_id)
        if not fresh and hit and time.monotonic() - hit[0] < CONTROL_SECONDS:
            return hit[1]
        state = await self.ctx.campaigns.control(campaign_id)
        self._control[campaign_id] = (time.monotonic(), state)
        return state

    async def _campaign(self, campaign_id: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        hit = self._cache.get(campaign_id)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1], hit[2]
        campaign = await self.ctx.campaigns.get(campaign_id)
        template = await self.ctx.templates.get(campaign["template_id"])
        self._cache[campaign_id] = (time.monotonic(), campaign, template)
        return campaign, template

    async def _pause_for_window(self, campaign_id: str) -> None:
        try:
            await self.ctx.service.pause(campaign_id, reason="window")
        except Exception:  # noqa: BLE001 - another worker paused it first
            pass
        self._cache.pop(campaign_id, None)
        self._control.pop(campaign_id, None)


def _queued(entry: Entry) -> Tuple[str, str]:
    return entry[0], entry[1]


def make_purpose() -> Any:
    """The sender's CAMPAIGN purpose (imported lazily: connectors.sender pulls in aiohttp)."""
    from connectors.sender import Purpose
    return Purpose.CAMPAIGN

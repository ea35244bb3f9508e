"""Campaign actions: each named action is one state transition plus its effects.

``start`` transitions atomically first (only one scheduler or API call can win), then snapshots
the audience into records (idempotent upserts) and enqueues them; a crash between the two is
repaired by ``recover_snapshots`` (the scheduler's maintenance runs it).
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional

from pymongo import UpdateOne

from .. import keys
from ..errors import IllegalTransition
from ..templates import ensure_sendable
from .commit import STATUS, Group, GroupCommit, recover_flushes
from .horizon import events_handled_until
from .planner import Audience, Plan
from .recipients import RecipientStore
from .state import CampaignState, RecipientState as R
from .store import CampaignStore

log = logging.getLogger(__name__)
ACTIVE = ("running", "paused", "scheduled")
#: A live worker's claim counts as lost only after this many leases (its send task died).
LIVE_WORKER_LEASES = 20


class CampaignService:
    def __init__(self, store: CampaignStore, recipients: RecipientStore, queue: Any, audience: Audience,
                 templates: Any, owner: str = "") -> None:
        """``owner``: the name this process's ``retry_failed`` commits are registered under (no
        heartbeat keeps it: an API request cannot finish a commit it left open)."""
        self.store, self.recipients, self.queue = store, recipients, queue
        self.audience, self.templates = audience, templates
        self.owner = owner or f"service/{uuid.uuid4().hex[:8]}"

    async def create(self, spec: Mapping[str, Any]) -> Dict[str, Any]:
        await self.templates.get(spec.get("template_id", ""))
        return await self.store.create(spec)

    async def preflight(self, campaign_id: str) -> Plan:
        campaign = await self.store.get(campaign_id)
        return await self.audience.preflight(campaign, await self.templates.get(campaign["template_id"]))

    async def schedule(self, campaign_id: str, schedule: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        extra = {"schedule": dict(schedule)} if schedule else None
        return await self.store.transition(campaign_id, "schedule", extra=extra)

    async def start(self, campaign_id: str) -> Dict[str, Any]:
        campaign = await self.store.get(campaign_id)
        template = await self.templates.get(campaign["template_id"])
        ensure_sendable(template)
        doc = await self.store.transition(campaign_id, "start", extra={"snapshot_done": False,
                                                                        "category": template["category"]})
        await self.snapshot(doc, template)
        return await self.store.get(campaign_id)

    async def snapshot(self, campaign: Mapping[str, Any], template: Optional[Mapping[str, Any]] = None) -> Plan:
        template = template or await self.templates.get(campaign["template_id"])
        plan = Plan()
        created = await self.recipients.snapshot(campaign["_id"], template["category"],
                                                 self.audience.walk(campaign, template, plan))
        await self.store.set_fields(campaign["_id"], {"plan": plan.to_dict(), "snapshot_done": True,
                                                      "stats.audience": plan.eligible})
        await self.enqueue_pending(campaign["_id"], campaign.get("priority", "normal"))
        log.info("campaign %s: %d recipients snapshotted (%d new)", campaign["_id"], plan.eligible, created)
        return plan

    async def enqueue_pending(self, campaign_id: str, priority: str = "normal") -> int:
        return await self.queue.enqueue(campaign_id, await self.recipients.pending_ids(campaign_id), priority)

    async def pause(self, campaign_id: str, reason: str = "") -> Dict[str, Any]:
        return await self.store.transition(campaign_id, "pause", reason=reason)

    async def resume(self, campaign_id: str) -> Dict[str, Any]:
        campaign = await self.store.get(campaign_id)
        if campaign.get("state") == "paused" and campaign.get("state_reason", "").startswith("template"):
            ensure_sendable(await self.templates.get(campaign["template_id"]))
        doc = await self.store.transition(campaign_id, "resume")
        await self.enqueue_pending(campaign_id, doc.get("priority", "normal"))
        return doc

    async def cancel(self, campaign_id: str) -> Dict[str, Any]:
        return await self.store.transition(campaign_id, "cancel")

    async def retry_failed(self, campaign_id: str) -> int:
        """Re-send transient failures only (rate limits, outages, 131049); returns how many.

        The records go back to pending as one group commit (campaigns.commit, kind ``send``: it
        holds completion) of ``owner``, which no heartbeat keeps: a caller killed or interrupted
        after registering leaves it to maintenance, which counts it from the stamps after the lease."""
        campaign = await self.store.get(campaign_id)
        if campaign["state"] == CampaignState.COMPLETED.value:
            campaign = await self.store.transition(campaign_id, "retry")
        elif campaign["state"] not in ("running", "paused"):
            raise IllegalTransition(f"cannot retry a {campaign['state']} campaign")
        query = {"campaign_id": campaign_id, "state": R.FAILED.value, "transient": True}
        commit = GroupCommit(self.owner)
        groups: Dict[Group, List[UpdateOne]] = defaultdict(list)
        async for doc in self.recipients.col.find(query, {"_id": 1, "reached": 1}):
            # a new attempt: its funnel starts again, so the levels it had reached come off the counters
            delta = (("retried", 1), (R.FAILED.value, -1), *((level, -1) for level in sorted(doc.get("reached") or [])))
            groups[(campaign_id, delta, commit.at)].append(
                RecipientStore.retry_op(doc["_id"], delta, commit.at, commit.flush_id(campaign_id)))
        count = await commit.run(self.recipients, self.store, groups) if groups else 0
        if count:
            await self.enqueue_pending(campaign_id, campaign.get("priority", "normal"))
        return count

    async def pause_for_template(self, template: Mapping[str, Any], status: str) -> List[str]:
        """A template went PAUSED/DISABLED: pause every running campaign that uses it."""
        paused = []
        async for doc in self.store.col.find({"template_id": template["_id"], "state": "running"}, {"_id": 1}):
            try:
                await self.pause(doc["_id"], reason=f"template {status.lower()}")
                paused.append(doc["_id"])
            except IllegalTransition:
                pass
        return paused

    async def complete_finished(self) -> List[str]:
        """Running campaigns with a snapshot, nothing left pending or sending and no send flush
        still open on them (campaigns.commit: its counts are not in yet) become completed.

        The counters are not set from the records here (the former ``reconcile_send_counters``):
        every count is a group commit now, a status's ``sent`` included, so none is lost to a kill;
        and overwriting ``sent`` at completion would double count the records of a status roll-up
        still open then (completion does not wait for those: statuses go on arriving after it)."""
        done = []
        query = {"state": "running", "snapshot_done": True,
                 "pending_flushes": {"$not": {"$elemMatch": {"kind": {"$ne": STATUS}}}}}
        async for doc in self.store.col.find(query, {"_id": 1}):
            if not await self.recipients.unfinished(doc["_id"]):
                try:
                    await self.store.transition(doc["_id"], "complete")
                    done.append(doc["_id"])
                except IllegalTransition:
                    continue
        return done

    async def recover_snapshots(self, older_than: float = 30.0) -> int:
        """Redo the snapshot of running campaigns whose starter died before finishing it."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than)
        count = 0
        async for doc in self.store.col.find({"state": "running", "snapshot_done": False,
                                              "running_at": {"$lt": cutoff}}):
            await self.snapshot(doc)
            count += 1
        return count

    async def reclaim_leases(self, lease_seconds: float) -> int:
        """``sending`` records of a dead worker, older than the lease with no status yet: back to
        pending, re-enqueued. A live worker (its heartbeat key exists) keeps its claims until it
        writes their outcomes, however slow the store: it never loses them; only after
        LIVE_WORKER_LEASES leases is such a record treated as lost (a send task that died).

        Ambiguous case (the worker died during the HTTP call): if Meta accepted the message, its
        ``sent`` status (matched by ``biz_opaque_callback_data``) normally arrives within seconds
        and moves the record out of ``sending`` before the lease ends, so it is not re-sent. Only
        a record with no status after the lease is sent again: at-least-once, chosen so that no
        recipient is silently missed; the lease (BROADCASTS_SEND_LEASE_S) bounds the risk. The
        lease is counted up to where the event consumer has handled the stream
        (``horizon.events_handled_until``), so a consumer lagging behind a campaign's statuses does
        not turn a status still waiting in the stream into a second send.

        First, the group commits dead workers and event consumers left open are finished from
        their records (``commit.recover_flushes``), under the same rule: older than the lease,
        owner dead.
        """
        await recover_flushes(self.recipients, self.store, lease_seconds)
        count = 0
        now = datetime.now(timezone.utc)
        overdue = now - timedelta(seconds=lease_seconds * LIVE_WORKER_LEASES)
        # The lease runs on the event consumer's clock (campaigns.horizon): a status produced in it
        # may still wait in the stream. Bounded: a consumer stuck for LIVE_WORKER_LEASES leases
        # no longer holds the recovery back.
        handled = datetime.fromtimestamp(await events_handled_until(self.store.redis), timezone.utc)
        for doc in await self.recipients.expired_leases(lease_seconds, now=max(min(now, handled), overdue)):
            claimed_at = doc["claimed_at"] if doc["claimed_at"].tzinfo else doc["claimed_at"].replace(tzinfo=timezone.utc)
            if claimed_at > overdue and await self.store.redis.exists(keys.worker_alive(doc.get("worker") or "")):
                continue
            if await self.recipients.release(doc["_id"]):
                campaign = await self.store.get(doc["campaign_id"])
                await self.queue.enqueue(doc["campaign_id"], [doc["wa_id"]], campaign.get("priority", "normal"))
                count += 1
        return count

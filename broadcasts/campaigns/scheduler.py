"""Campaign schedules: APScheduler 3 with a persistent MongoDB job store, plus maintenance.

One-off (``schedule.at``, ISO time) and recurring (``schedule.cron``, crontab syntax) schedules
in the campaign's ``schedule.timezone``. Jobs live in MongoDB (``broadcasts_jobs``), so they
survive restarts; any number of replicas may run a scheduler: APScheduler does not coordinate
them, but firing only calls ``start``, whose transition is atomic, so a campaign starts once.
A recurring campaign stays ``scheduled`` and each firing creates a child run with the
deterministic id ``{id}-{YYYYMMDDHHMM}`` (the scheduled minute), created once across replicas.

Maintenance (every ``maintenance_seconds``, in memory, every replica): expired send leases,
window pause/resume, completion, snapshot recovery, stuck flags. Reminders are a job of their
own (every ``reminder_seconds``): a large batch sends for minutes, and maintenance must not wait
for it. Each job runs at most once at a time per replica (``max_instances=1``, missed runs
coalesced); replicas may send reminders at the same time, since each reminder is claimed on its
record with one conditional update before it is sent (``followups.FollowUps.send_reminders``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Optional

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.mongodb import MongoDBJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from pymongo import MongoClient

from ..errors import BroadcastsError, InvalidInput
from .window import in_window

log = logging.getLogger(__name__)
_CTX: Optional[Any] = None  # the running service's Context, for jobs restored from MongoDB


def job_id(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


async def fire(campaign_id: str) -> None:
    """The persisted job: start a one-off campaign, or a child run of a recurring one."""
    if _CTX is None:
        return
    campaign = await _CTX.campaigns.get(campaign_id)
    try:
        if (campaign.get("schedule") or {}).get("cron"):
            minute = datetime.now(timezone.utc).replace(second=0, microsecond=0)
            child_id = f"{campaign_id}-{minute:%Y%m%d%H%M}"
            spec = {k: v for k, v in campaign.items() if k not in ("_id", "state", "history", "stats")}
            spec.update(parent_id=campaign_id, run_at=minute,
                        schedule={k: v for k, v in campaign["schedule"].items() if k != "cron"})
            await _CTX.campaigns.create(spec, child_id)
            await _CTX.service.start(child_id)
        else:
            await _CTX.service.start(campaign_id)
    except BroadcastsError as exc:
        log.info("scheduled start of %s: %s", campaign_id, exc)


def trigger(schedule: dict) -> Any:
    tz = schedule.get("timezone") or "UTC"
    if schedule.get("cron"):
        try:
            return CronTrigger.from_crontab(schedule["cron"], timezone=tz)
        except ValueError as exc:
            raise InvalidInput(f"bad cron {schedule['cron']!r}: {exc}") from None
    if schedule.get("at"):
        at = datetime.fromisoformat(str(schedule["at"]).replace("Z", "+00:00"))
        return DateTrigger(run_date=at, timezone=tz)
    raise InvalidInput("a schedule needs 'at' or 'cron'")


class CampaignScheduler:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.sync_client = MongoClient(ctx.settings.mongo_url, tz_aware=True)
        self.scheduler = AsyncIOScheduler(timezone="UTC", jobstores={
            "default": MongoDBJobStore(database=ctx.settings.mongo_db, collection="broadcasts_jobs",
                                       client=self.sync_client),
            "memory": MemoryJobStore()})

    def start(self) -> None:
        global _CTX
        _CTX = self.ctx
        settings = self.ctx.settings
        # Every replica's recurring jobs, in memory (not persisted); separate jobs run concurrently.
        for name, job, seconds in (("maintenance", self.maintain, settings.maintenance_seconds),
                                   ("reminders", self.send_reminders, settings.reminder_seconds),
                                   ("template-sync", self.sync_templates, settings.template_sync_seconds)):
            self.scheduler.add_job(job, "interval", seconds=seconds, id=name, jobstore="memory",
                                   max_instances=1, coalesce=True)
        self.scheduler.start()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.sync_client.close()

    async def schedule(self, campaign_id: str, schedule: dict) -> dict:
        """Validate, transition draft -> scheduled, and register the persistent job."""
        job_trigger = trigger(schedule)
        doc = await self.ctx.service.schedule(campaign_id, schedule)
        self.scheduler.add_job(fire, job_trigger, args=[campaign_id], id=job_id(campaign_id), replace_existing=True,
                               misfire_grace_time=None, coalesce=True)
        return doc

    def unschedule(self, campaign_id: str) -> None:
        try:
            self.scheduler.remove_job(job_id(campaign_id))
        except Exception:  # noqa: BLE001 - JobLookupError: nothing was scheduled
            pass

    def next_run(self, campaign_id: str) -> Optional[datetime]:
        job = self.scheduler.get_job(job_id(campaign_id))
        return job.next_run_time if job else None

    async def sync_templates(self) -> None:
        if self.ctx.graph is not None and self.ctx.graph.waba_id:
            try:
                await self.ctx.templates.sync()
            except Exception:  # noqa: BLE001 - the next sync tries again
                log.exception("template sync failed")

    async def maintain(self) -> None:
        ctx = self.ctx
        try:
            await ctx.service.reclaim_leases(ctx.settings.send_lease_seconds)
            await ctx.service.recover_snapshots()
            async for doc in ctx.campaigns.col.find({"state": "paused", "state_reason": "window"}):
                if in_window(doc):
                    await ctx.service.resume(doc["_id"])
            await ctx.service.complete_finished()
            await ctx.tracker.flag_stuck(ctx.settings.stuck_sent_minutes)
        except Exception:  # noqa: BLE001 - maintenance runs again in a second
            log.exception("maintenance failed")

    async def send_reminders(self) -> None:
        """The no-reply reminders of every running or completed campaign that has one."""
        ctx = self.ctx
        try:
            async for doc in ctx.campaigns.col.find({"state": {"$in": ["running", "completed"]},
                                                     "followups.reminder.template_id": {"$exists": True}}):
                await ctx.followups.send_reminders(doc)
        except Exception:  # noqa: BLE001 - the next run picks up the unclaimed records
            log.exception("reminders failed")

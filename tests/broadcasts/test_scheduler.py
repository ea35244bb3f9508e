"""Schedules persist in MongoDB across restarts; two scheduler replicas start a campaign once."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from broadcasts.campaigns import scheduler as sched
from broadcasts.campaigns.scheduler import CampaignScheduler
from broadcasts.campaigns.window import in_window

from .harness import wait_for
from .helpers import import_contacts

TEMPLATE = {"_id": "t-hello", "name": "hello_world", "language": "en_US", "category": "utility",
            "status": "APPROVED", "variables": [], "components": []}


async def test_schedule_survives_restart_and_two_replicas_start_once(ctx):
    await ctx.templates.col.insert_one(dict(TEMPLATE))
    await import_contacts(ctx, 10)
    campaign = await ctx.service.create({"template_id": "t-hello", "segment": {"filter": {}}})
    first = CampaignScheduler(ctx)
    first.start()
    at = datetime.now(timezone.utc) + timedelta(seconds=2)
    await first.schedule(campaign["_id"], {"at": at.isoformat(), "timezone": "Europe/Paris"})
    first.shutdown()  # the process restarts before the time
    assert await ctx.db["broadcasts_jobs"].count_documents({"_id": f"campaign:{campaign['_id']}"}) == 1
    replicas = [CampaignScheduler(ctx), CampaignScheduler(ctx)]
    for replica in replicas:
        replica.start()
    try:
        async def running():
            return (await ctx.campaigns.get(campaign["_id"]))["state"] in ("running", "completed")
        assert await wait_for(running, 15)
        await asyncio.sleep(1.0)
        doc = await ctx.campaigns.get(campaign["_id"])
        assert [h["action"] for h in doc["history"]].count("start") == 1
        assert await ctx.recipients.col.count_documents({"campaign_id": campaign["_id"]}) == 10
    finally:
        for replica in replicas:
            replica.shutdown()


async def test_recurring_runs_get_one_child_per_minute(ctx):
    await ctx.templates.col.insert_one(dict(TEMPLATE))
    await import_contacts(ctx, 3)
    parent = await ctx.service.create({"template_id": "t-hello", "segment": {"filter": {}}})
    await ctx.service.schedule(parent["_id"], {"cron": "0 10 * * *", "timezone": "Asia/Kolkata",
                                               "window": {"start": "10:00", "end": "20:00"}})
    sched._CTX = ctx
    await asyncio.gather(sched.fire(parent["_id"]), sched.fire(parent["_id"]))
    children = await ctx.campaigns.list()
    runs = [c for c in children if c.get("parent_id") == parent["_id"]]
    assert len(runs) == 1 and runs[0]["_id"].startswith(parent["_id"] + "-")
    assert (await ctx.campaigns.get(parent["_id"]))["state"] == "scheduled"


def test_sending_window_in_campaign_time_zone():
    campaign = {"schedule": {"timezone": "Asia/Kolkata", "window": {"start": "10:00", "end": "20:00"}}}
    assert in_window(campaign, datetime(2026, 1, 1, 5, 0, tzinfo=timezone.utc))       # 10:30 IST
    assert not in_window(campaign, datetime(2026, 1, 1, 15, 0, tzinfo=timezone.utc))  # 20:30 IST
    night = {"schedule": {"timezone": "UTC", "window": {"start": "22:00", "end": "06:00"}}}
    assert in_window(night, datetime(2026, 1, 1, 23, 0, tzinfo=timezone.utc))
    assert not in_window(night, datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc))
    assert in_window({}, None)

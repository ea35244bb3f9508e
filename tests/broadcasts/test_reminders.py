"""No-reply reminders run as a scheduler job of their own: a long reminder batch never holds up
maintenance, and scheduler replicas running it at the same time remind each recipient once."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

from broadcasts.campaigns.recipients import record_id
from broadcasts.campaigns.scheduler import CampaignScheduler
from broadcasts.context import Context

from .harness import wait_for
from .helpers import SALE_VARS, import_contacts, per_recipient, template_id


async def _campaign(ctx, segment, followups=None):
    spec = {"template_id": await template_id(ctx, "spring_sale"), "variables": SALE_VARS, "rate": 0,
            "segment": {"filter": segment}}
    if followups:
        spec["followups"] = followups
    return (await ctx.service.create(spec))["_id"]


async def _reminder(ctx, after_seconds):
    return {"reminder": {"after_hours": after_seconds / 3600, "template_id": await template_id(ctx, "reengage"),
                         "variables": {"1": {"attr": "first_name", "default": "there"}}}}


async def _reminders_done(ctx, cid):
    return await ctx.recipients.col.count_documents({"campaign_id": cid, "reminder.at": {"$exists": True}})


async def _completed(ctx, cid):
    return (await ctx.campaigns.get(cid))["state"] == "completed"


async def test_maintenance_completes_and_recovers_leases_during_a_reminder_batch(live):
    ctx, sandbox = live.ctx, live.sandbox
    # Every send is answered after 2 s: campaign sends go out concurrently (one stall), but a
    # reminder batch sends one by one, so A's 12 reminders take about 24 s.
    await sandbox.config(chaos={"send_timeout": 1.0}, chaos_timeout_ms=2000)
    everyone = await import_contacts(ctx, 24)
    women, men = everyone[1::2], everyone[0::2]
    a = await _campaign(ctx, {"attr": "gender", "op": "eq", "value": "female"}, await _reminder(ctx, 1))
    b = await _campaign(ctx, {"all": [{"attr": "gender", "op": "eq", "value": "male"},
                                      {"attr": "first_name", "op": "ne", "value": "F0"}]})
    await ctx.service.start(a)

    async def batch_in_progress():
        return await ctx.recipients.col.count_documents({"campaign_id": a, "reminder.state": "sending"})
    assert await wait_for(batch_in_progress, 30)
    await ctx.service.start(b)
    # B gets one more record: a dead worker's claim, past the lease (its other sends stall 2 s,
    # so B cannot complete before it), which only maintenance's lease recovery sends.
    stale = record_id(b, men[0])
    await ctx.recipients.col.insert_one({
        "_id": stale, "campaign_id": b, "wa_id": men[0], "category": "marketing",
        "values": {"first_name": "F0", "discount": "20%"}, "state": "sending", "rank": 1,
        "created_at": datetime.now(timezone.utc), "worker": "gone/run",
        "claimed_at": datetime.now(timezone.utc) - timedelta(seconds=10 * live.settings.send_lease_seconds)})

    assert await wait_for(lambda: _completed(ctx, b), 20)
    assert await _reminders_done(ctx, a) < len(women), "the reminder batch had already finished"
    assert (await ctx.recipients.get(stale))["state"] != "sending"
    assert per_recipient(await sandbox.outbox(), "spring_sale") == Counter(everyone)

    async def batch_done():
        return await _reminders_done(ctx, a) == len(women)
    assert await wait_for(batch_done, 60)
    assert per_recipient(await sandbox.outbox(), "reengage") == Counter(women)


async def test_two_scheduler_replicas_remind_each_non_responder_once(live):
    ctx, sandbox = live.ctx, live.sandbox
    await sandbox.config(chaos={"send_timeout": 1.0}, chaos_timeout_ms=200)  # the replicas' batches overlap
    everyone = await import_contacts(ctx, 16)
    replica_ctx = await Context.open(live.settings)
    replica = CampaignScheduler(replica_ctx)
    replica.start()
    try:
        cid = await _campaign(ctx, {}, await _reminder(ctx, 1))
        await ctx.service.start(cid)

        async def all_reminded():
            return await ctx.recipients.col.count_documents({"campaign_id": cid, "reminder.state": "sent"}) \
                == len(everyone)
        assert await wait_for(all_reminded, 60)
        await asyncio.sleep(1.0)  # both replicas keep running their reminder jobs
    finally:
        replica.shutdown()
        await replica_ctx.close()
    assert per_recipient(await sandbox.outbox(), "reengage") == Counter(everyone)
    assert (await ctx.campaigns.get(cid))["stats"]["reminded"] == len(everyone)

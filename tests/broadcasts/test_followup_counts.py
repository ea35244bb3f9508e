"""Group commits (campaigns.commit) of the follow-up counters under kills: a reply counted
``replied`` and a reminder counted ``reminded`` (campaigns.followups), and ``retry_failed``
(campaigns.service), whose records go back to pending and whose counts come off ``failed`` and
the funnel.

A real process runs the path and SIGKILLs itself after registering (before its record write) or
after the record write (before the close); maintenance then runs (several replicas at once).
The campaign's counters end equal to a recount from the records, nothing counted twice.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any, Dict

import pytest

from broadcasts import keys as bc_keys
from broadcasts.campaigns.commit import recover_flushes
from broadcasts.campaigns.outcomes import Kind, Outcome, OutcomeWriter, _Batch
from connectors import events

from .harness import ROOT
from .test_outcomes import _campaign, _open_flushes

#: The victim: one path of the follow-ups or the service, SIGKILLed at the first call of a store method.
VICTIM = """
import asyncio, json, os, signal, sys
from broadcasts.context import Context
from broadcasts.settings import Settings

async def main(fields, path, step, owner, cid, arg):
    ctx = await Context.open(Settings(**fields), build_sender=False)
    target, name = {"write": (ctx.recipients, "write"), "close": (ctx.campaigns, "close_flush")}[step]
    async def dies(*args):
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(target, name, dies)
    if path == "reply":
        await ctx.followups.on_reply(arg, owner)
    elif path == "reminder":
        await ctx.followups.send_reminders(await ctx.campaigns.get(cid))
    else:
        await ctx.service.retry_failed(cid)

asyncio.run(main(*json.loads(sys.argv[1])))
"""
COUNTERS = ("sent", "delivered", "failed", "skipped", "replied", "reminded", "retried")
CONSUMER = "test-events/dead0009"


async def _counters(ctx: Any, cid: str) -> Dict[str, int]:
    stats = (await ctx.campaigns.get(cid)).get("stats") or {}
    return {k: int(stats.get(k, 0)) for k in COUNTERS}


async def _recount(ctx: Any, cid: str) -> Dict[str, int]:
    """``tracker.recount``, with the reminders whose outcome is written and the retries made."""
    recount, col = await ctx.tracker.recount(cid), ctx.recipients.col
    recount["reminded"] = await col.count_documents(
        {"campaign_id": cid, "reminder.state": {"$in": ["sent", "skipped", "failed"]}})
    recount["retried"] = sum([d.get("retries", 0) async for d in col.find({"campaign_id": cid}, {"retries": 1})])
    return {k: recount[k] for k in COUNTERS}


async def _sent_campaign(ctx: Any) -> tuple:
    """4 recipients: 0 delivered, 1 accepted then failed by Meta (transient), 2 failed at send
    (transient), 3 refused (131026, not transient); a reminder due at once."""
    cid, rids = await _campaign(ctx, 4, "w/0009")
    await ctx.campaigns.set_fields(cid, {"followups": {"reminder": {"after_hours": 0, "template_id": "none"}}})
    await OutcomeWriter(ctx.recipients, ctx.campaigns, ctx.queue)._flush(_Batch(
        [Outcome(Kind.ACCEPTED, cid, rid, None, wamid=f"wamid.{rid}") for rid in rids[:2]]
        + [Outcome(Kind.FAILED, cid, rids[2], None, error={"code": 131000}, transient=True),
           Outcome(Kind.FAILED, cid, rids[3], None, error={"code": 131026})]))
    now = str(int(time.time()))
    await ctx.tracker.on_statuses([(events.MESSAGE_DELIVERED, {"biz_opaque_callback_data": rids[0], "timestamp": now})])
    await ctx.tracker.on_status(events.MESSAGE_FAILED, {"biz_opaque_callback_data": rids[1], "timestamp": now,
                                                        "errors": [{"code": 131000}]})
    return cid, rids


async def _kill(settings: Any, path: str, step: str, owner: str, cid: str, arg: Any = None) -> None:
    fields = {"redis_url": settings.redis_url, "mongo_url": settings.mongo_url, "mongo_db": settings.mongo_db}
    victim = await asyncio.create_subprocess_exec(sys.executable, "-c", VICTIM,
                                                  json.dumps([fields, path, step, owner, cid, arg]), cwd=ROOT)
    assert await asyncio.wait_for(victim.wait(), 60) == -signal.SIGKILL


async def _recover(ctx: Any, cid: str) -> None:
    """Three maintenance replicas at once close the dead commit once; then nothing is left open."""
    assert len(await _open_flushes(ctx, cid)) == 1
    closed = await asyncio.gather(*(recover_flushes(ctx.recipients, ctx.campaigns, 0.0) for _ in range(3)))
    assert sum(closed) == 1
    assert await recover_flushes(ctx.recipients, ctx.campaigns, 0.0) == 0
    assert await _open_flushes(ctx, cid) == []


@pytest.mark.parametrize("step", ["write", "close"])
async def test_a_reply_killed_before_its_count_is_counted_once(ctx, settings, step):
    cid, rids = await _sent_campaign(ctx)
    reply = {"wa_id": rids[0].rsplit(":", 1)[1], "context_id": f"wamid.{rids[0]}", "text": "yes"}
    await _kill(settings, "reply", step, CONSUMER, cid, reply)
    assert await ctx.service.complete_finished() == [cid]  # an open reply does not hold completion

    assert await ctx.followups.on_reply(reply, "test-events/live0010") == rids[0]  # the entry comes again
    await ctx.redis.set(bc_keys.worker_alive(CONSUMER), "1", ex=60)  # the dead consumer's heartbeat, not yet expired
    assert await recover_flushes(ctx.recipients, ctx.campaigns, 0.0) == 0
    await ctx.redis.delete(bc_keys.worker_alive(CONSUMER))
    await _recover(ctx, cid)
    assert (await _recount(ctx, cid))["replied"] == 1
    assert await _counters(ctx, cid) == await _recount(ctx, cid)


@pytest.mark.parametrize("step", ["write", "close"])
async def test_a_reminder_killed_before_its_count_is_counted_once_and_never_sent_again(ctx, settings, step):
    cid, rids = await _sent_campaign(ctx)  # reminders go to 0 (delivered); 1-3 failed
    await _kill(settings, "reminder", step, "", cid)
    await _recover(ctx, cid)  # its owner has no heartbeat: maintenance's after the lease
    assert (await _recount(ctx, cid))["reminded"] == (step == "close")
    assert await _counters(ctx, cid) == await _recount(ctx, cid)

    assert await ctx.followups.send_reminders(await ctx.campaigns.get(cid)) == 0  # claimed: at most once
    assert (await ctx.recipients.get(rids[0]))["reminder"]["state"] == ("failed" if step == "close" else "sending")
    assert await _counters(ctx, cid) == await _recount(ctx, cid)


@pytest.mark.parametrize("step", ["write", "close"])
async def test_retry_failed_killed_before_its_count_is_counted_once(ctx, settings, step):
    cid, rids = await _sent_campaign(ctx)
    assert await ctx.service.complete_finished() == [cid]
    before = await _counters(ctx, cid)
    assert before == await _recount(ctx, cid) and before["failed"] == 3 and before["sent"] == 2

    await _kill(settings, "retry", step, "", cid)
    await _recover(ctx, cid)  # no heartbeat: maintenance's after the lease
    recount = await _recount(ctx, cid)
    retried = 2 if step == "close" else 0
    assert recount["retried"] == retried and recount["failed"] == 3 - retried and recount["sent"] == 2 - retried // 2
    assert await _counters(ctx, cid) == recount
    states = await ctx.recipients.counts(cid)
    assert states.get("pending", 0) == retried and states["failed"] == 3 - retried

    assert await ctx.service.retry_failed(cid) == 2 - retried  # what the kill left failed, retried now
    assert await _counters(ctx, cid) == await _recount(ctx, cid)
    assert (await _recount(ctx, cid))["retried"] == 2
    assert await _open_flushes(ctx, cid) == []

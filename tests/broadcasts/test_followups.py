"""Replies, follow-ups, reminders, STOP mid-campaign, template pauses and status chaos."""
from __future__ import annotations

import asyncio

from connectors import keys

from .harness import wait_for
from .helpers import SALE_VARS, import_contacts, per_recipient, template_id, wa


async def _start(live, n, **extra):
    ctx = live.ctx
    spec = {"template_id": await template_id(ctx, "spring_sale"), "variables": SALE_VARS,
            "segment": {"filter": {"consent": "marketing", "value": "opted_in"}}, "rate": 0, **extra}
    campaign = await ctx.service.create(spec)
    await ctx.service.start(campaign["_id"])
    return campaign["_id"]


async def _completed(ctx, cid):
    return (await ctx.campaigns.get(cid))["state"] == "completed"


async def test_interested_reply_triggers_follow_up_and_reminder_skips_responders(live):
    ctx, sandbox = live.ctx, live.sandbox
    await import_contacts(ctx, 20)
    order = await template_id(ctx, "order_update")
    followups = {
        "rules": [{"match": "Interested", "action": "template", "template_id": order,
                   "variables": {"1": {"attr": "first_name"}, "2": {"value": "SALE-1"}, "3": {"value": "reserved"}}},
                  {"match": "talk to a human", "action": "handoff"}],
        "reminder": {"after_hours": 8 / 3600, "template_id": await template_id(ctx, "reengage"),
                     "variables": {"1": {"attr": "first_name", "default": "there"}}}}
    cid = await _start(live, 20, followups=followups)
    assert await wait_for(lambda: _completed(ctx, cid), 30)
    sale = {m["to"].lstrip("+"): m for m in await sandbox.outbox()}
    # wa(1) taps the quick reply on the campaign message; wa(2) asks for a human by text
    await sandbox.say(wa(1), {"type": "button", "button": {"payload": "Interested", "text": "Interested"},
                              "context": {"id": sale[wa(1)]["wamid"]}})
    await sandbox.say(wa(2), {"type": "text", "text": {"body": "Talk to a human"}})
    assert await wait_for(lambda: _has(sandbox, wa(1), "order_update"), 15)

    async def reminded():
        box = await sandbox.outbox()
        return len(per_recipient(box, "reengage")) >= 18
    assert await wait_for(reminded, 30)
    box = await sandbox.outbox()
    reminders = per_recipient(box, "reengage")
    assert wa(1) not in reminders and wa(2) not in reminders and set(reminders.values()) == {1}
    assert per_recipient(box, "order_update") == {wa(1): 1}
    follow = next(m for m in box if m["to"].lstrip("+") == wa(1) and m["payload"]["template"]["name"] == "order_update")
    assert [p["text"] for p in follow["payload"]["template"]["components"][0]["parameters"]] == ["F1", "SALE-1",
                                                                                              "reserved"]
    handoffs = [e for e in await _events(ctx) if e.type == "handoff.requested"]
    assert [e.data["wa_id"] for e in handoffs] == [wa(2)]
    assert handoffs[0].data["context"]["slots"]["campaign_id"] == cid
    analytics = await ctx.tracker.analytics(cid)
    assert analytics["counts"]["replied"] == 2
    await asyncio.sleep(1.0)  # maintenance keeps running: still one reminder each
    assert set(per_recipient(await sandbox.outbox(), "reengage").values()) == {1}


async def test_stop_mid_campaign_stops_marketing_to_that_contact(live):
    ctx, sandbox = live.ctx, live.sandbox
    await import_contacts(ctx, 60)
    late = wa(59)
    await sandbox.say(late, {"type": "text", "text": {"body": "hello"}})  # open the window, exists in sandbox
    cid = await _start(live, 60, rate=10)
    await sandbox.say(late, {"type": "text", "text": {"body": "STOP"}})
    assert await wait_for(lambda: ctx.redis.exists(keys.consent_optout(late)), 10)
    assert await wait_for(lambda: _completed(ctx, cid), 40)
    counts = per_recipient(await sandbox.outbox(), "spring_sale")
    assert late not in counts and len(counts) == 59
    record = await ctx.recipients.get(f"campaign:{cid}:{late}")
    assert record["state"] == "skipped"
    entries = await ctx.ledger.entries(late, "marketing")
    assert [e.source.value for e in entries][-1] == "stop_keyword"
    assert any(e.type == "contact.opted_out" and e.data["wa_id"] == late for e in await _events(ctx))


async def test_statuses_roll_up_exactly_under_duplicates_and_reordering(live):
    ctx, sandbox = live.ctx, live.sandbox
    await sandbox.config(chaos={"duplicate": 0.5, "reorder": 0.5, "batch": 0.3}, read_probability=0.5,
                         unreachable=[wa(3), wa(4)])
    await import_contacts(ctx, 80)
    cid = await _start(live, 80)
    assert await wait_for(lambda: _completed(ctx, cid), 30)

    async def settled():  # statuses still arriving between two reads would make them differ
        before = await ctx.tracker.recount(cid)
        a = await ctx.tracker.analytics(cid)
        recount = await ctx.tracker.recount(cid)
        states = a["states"]
        quiet = states.get("accepted", 0) + states.get("sent", 0) == 0 and before == recount
        await asyncio.sleep(0.5)
        return (a, recount) if quiet and a["counts"]["failed"] == 2 and recount == await ctx.tracker.recount(cid) \
            else None
    result = await wait_for(settled, 30)
    assert result, await ctx.tracker.analytics(cid)
    analytics, recount = result
    counts = analytics["counts"]
    assert {k: counts[k] for k in recount if k in counts} == recount
    assert counts["sent"] == 80 and counts["delivered"] == 78 and counts["failed"] == 2
    assert 0 < counts["read"] < 78
    assert analytics["failure_reasons"][0]["code"] == 131026
    assert (await ctx.contacts.get(wa(3)))["unreachable"]["code"] == 131026


async def test_paused_template_pauses_its_campaigns(live):
    ctx, sandbox = live.ctx, live.sandbox
    await import_contacts(ctx, 40)
    tid = await template_id(ctx, "spring_sale")
    cid = await _start(live, 40, rate=5)
    await sandbox.template_status(tid, "PAUSED")

    async def paused():
        doc = await ctx.campaigns.get(cid)
        return doc["state"] == "paused" and doc["state_reason"] == "template paused"
    assert await wait_for(paused, 10)
    assert (await ctx.templates.get(tid))["status"] == "PAUSED"


async def _has(sandbox, wa_id, name):
    return bool(per_recipient(await sandbox.outbox(wa_id), name))


async def _events(ctx):
    from connectors.events import Event
    return [Event.from_fields(f) for _, f in await ctx.redis.xrange(keys.EVENTS_STREAM)]

"""Campaigns end to end through the real Sender, the sandbox and the inbound pipeline."""
from __future__ import annotations

from .harness import wait_for
from .helpers import SALE_VARS, import_contacts, per_recipient, template_id

N = 120


async def _campaign(live, **extra):
    spec = {"name": "spring", "template_id": await template_id(live.ctx, "spring_sale"), "variables": SALE_VARS,
            "segment": {"filter": {"consent": "marketing", "value": "opted_in"}}, "rate": 0, **extra}
    return await live.ctx.service.create(spec)


async def _state(live, cid):
    return (await live.ctx.campaigns.get(cid))["state"]


async def test_campaign_sends_exactly_one_per_recipient_and_rolls_up(live):
    ctx = live.ctx
    everyone = await import_contacts(ctx, N, opted_out=5)
    campaign = await _campaign(live, segment={"filter": {}})  # no consent filter: the planner excludes them
    plan = await ctx.service.preflight(campaign["_id"])
    assert plan.audience == N and plan.eligible == N - 5 and plan.excluded == {"no_consent": 5}
    assert plan.by_category == {"marketing": N - 5}
    assert plan.cost > 0
    await ctx.service.start(campaign["_id"])
    assert await wait_for(lambda: _is(live, campaign["_id"], "completed"), 60)
    outbox = await live.sandbox.outbox()
    counts = per_recipient(outbox, "spring_sale")
    assert set(counts) == set(everyone[:N - 5]) and set(counts.values()) == {1}
    first = next(m for m in outbox if m["to"].lstrip("+") == everyone[1])
    body = first["payload"]["template"]["components"][0]["parameters"]
    assert {p["parameter_name"]: p["text"] for p in body} == {"first_name": "F1", "discount": "20%"}

    async def read_all():
        a = await ctx.tracker.analytics(campaign["_id"])
        return a if a["counts"]["read"] == N - 5 else None
    analytics = await wait_for(read_all, 30)
    assert analytics, await ctx.tracker.analytics(campaign["_id"])
    assert analytics["counts"]["sent"] == analytics["counts"]["delivered"] == N - 5
    assert await ctx.tracker.recount(campaign["_id"]) == {**{k: analytics["counts"][k] for k in
                                                             ("sent", "delivered", "read", "failed", "skipped")},
                                                          "replied": 0}


async def _is(live, cid, state):
    return await _state(live, cid) == state


async def test_pause_resume_cancel_take_effect_quickly(live):
    ctx = live.ctx
    await import_contacts(ctx, N)
    campaign = await _campaign(live, rate=20)
    cid = campaign["_id"]
    await ctx.service.start(cid)
    assert await wait_for(lambda: _sent_at_least(live, 5), 10)
    await ctx.service.pause(cid)
    import asyncio
    await asyncio.sleep(1.0)  # in-flight sends (at most ~1 s of pacing) land
    frozen = len(await live.sandbox.outbox())
    await asyncio.sleep(1.5)
    assert len(await live.sandbox.outbox()) == frozen < N
    await ctx.service.resume(cid)
    assert await wait_for(lambda: _sent_at_least(live, frozen + 5), 10)
    await ctx.service.cancel(cid)
    await asyncio.sleep(1.0)
    after_cancel = len(await live.sandbox.outbox())
    await asyncio.sleep(1.5)
    assert len(await live.sandbox.outbox()) == after_cancel < N
    assert set(per_recipient(await live.sandbox.outbox(), "spring_sale").values()) == {1}


async def _sent_at_least(live, n):
    return len(await live.sandbox.outbox()) >= n

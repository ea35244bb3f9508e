"""A worker process SIGKILLed mid-campaign and restarted: still exactly one message per recipient."""
from __future__ import annotations

import asyncio
import os
import signal

from .harness import wait_for, worker_process
from .helpers import SALE_VARS, import_contacts, per_recipient, template_id

N = 150


async def test_sigkilled_worker_resumes_exactly_where_it_stopped(live_no_workers):
    live = live_no_workers
    ctx = live.ctx
    everyone = await import_contacts(ctx, N)
    campaign = await ctx.service.create({"template_id": await template_id(ctx, "spring_sale"), "rate": 40,
                                         "variables": SALE_VARS, "segment": {"filter": {}}})
    await ctx.service.start(campaign["_id"])
    first = worker_process(live.settings, f"crash-{os.getpid()}")
    try:
        assert await wait_for(lambda: _outbox_at_least(live, 40), 30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = len(await live.sandbox.outbox())
        assert killed_at < N
        second = worker_process(live.settings, f"crash-{os.getpid()}")
        try:
            done = await wait_for(lambda: _state_is(ctx, campaign["_id"], "completed"), 60)
            assert done, await ctx.tracker.analytics(campaign["_id"])
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    await asyncio.sleep(1.0)
    counts = per_recipient(await live.sandbox.outbox(), "spring_sale")
    assert set(counts) == set(everyone), f"missing: {set(everyone) - set(counts)}"
    assert [w for w, n in counts.items() if n != 1] == []


async def _outbox_at_least(live, n):
    return len(await live.sandbox.outbox()) >= n


async def _state_is(ctx, cid, state):
    return (await ctx.campaigns.get(cid))["state"] == state

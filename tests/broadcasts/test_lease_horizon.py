"""A dead worker's claim is re-sent only when no status for it was produced within the lease, and
that is known only as far as the event consumer has handled the stream (campaigns.horizon): a
status still waiting behind a lagging consumer must not turn into a second send."""
from __future__ import annotations

import asyncio
import time

from broadcasts import keys as bc_keys
from broadcasts.campaigns.horizon import events_handled_until
from connectors import keys

from .test_outcomes import _campaign


async def _group(ctx) -> None:
    """The broadcasts group, caught up with everything before this moment."""
    await ctx.redis.xgroup_destroy(keys.EVENTS_STREAM, bc_keys.EVENTS_GROUP) if await ctx.redis.exists(
        keys.EVENTS_STREAM) else None
    await ctx.redis.xgroup_create(keys.EVENTS_STREAM, bc_keys.EVENTS_GROUP, id="$", mkstream=True)


async def test_a_claim_waits_for_the_consumer_to_reach_its_lease_end(ctx):
    cid, rids = await _campaign(ctx, 1, "dead/0001")  # claimed now by a worker with no heartbeat
    await _group(ctx)
    await asyncio.sleep(0.3)
    # The consumer falls behind here: this event (it could be the record's status) is not read.
    entry = await ctx.redis.xadd(keys.EVENTS_STREAM, {"e": "1"})
    produced = int((entry.decode() if isinstance(entry, bytes) else entry).split("-")[0]) / 1000

    assert abs(await events_handled_until(ctx.redis) - produced) < 0.01
    assert await ctx.service.reclaim_leases(1.0) == 0  # its lease has not ended on any clock...
    await asyncio.sleep(1.2)
    assert await ctx.service.reclaim_leases(1.0) == 0  # ...it has on the wall clock, not the consumer's

    got = await ctx.redis.xreadgroup(bc_keys.EVENTS_GROUP, "c", {keys.EVENTS_STREAM: ">"})
    assert await ctx.service.reclaim_leases(1.0) == 0  # read, not acknowledged: still not handled
    await ctx.redis.xack(keys.EVENTS_STREAM, bc_keys.EVENTS_GROUP, got[0][1][0][0])

    assert await ctx.service.reclaim_leases(1.0) == 1  # caught up, and no status came: sent again
    assert (await ctx.recipients.get(rids[0]))["state"] == "pending"


async def test_with_nothing_waiting_the_horizon_is_now(ctx):
    await _group(ctx)
    await ctx.redis.xadd(keys.EVENTS_STREAM, {"e": "1"})
    got = await ctx.redis.xreadgroup(bc_keys.EVENTS_GROUP, "c", {keys.EVENTS_STREAM: ">"})
    await ctx.redis.xack(keys.EVENTS_STREAM, bc_keys.EVENTS_GROUP, got[0][1][0][0])
    assert abs(await events_handled_until(ctx.redis) - time.time()) < 1

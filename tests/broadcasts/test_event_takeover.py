"""Events a broadcasts process was given and never acknowledged (it was SIGKILLed; with the
default consumer name ``broadcasts-<pid>`` nobody reads them again) are taken over by another
consumer: what must survive is the opt-out they carry, applied exactly once in the ledger."""
from __future__ import annotations

import time

from broadcasts import keys as bc_keys
from broadcasts.consumer import EventConsumer
from connectors import events, keys
from connectors.events import Event

WA = "919812300001"


async def test_a_dead_consumers_events_are_taken_over_once(ctx):
    survivor = EventConsumer(ctx, "broadcasts-2")
    await survivor.ensure_group()
    event = Event(events.CONTACT_OPTED_OUT, f"{WA}:wamid.9", {"wa_id": WA, "source": "bot", "category": "marketing"},
                  time.time())
    await ctx.redis.xadd(keys.EVENTS_STREAM, event.to_fields())
    # broadcasts-1 reads it and dies before handling it
    await ctx.redis.xreadgroup(bc_keys.EVENTS_GROUP, "broadcasts-1", {keys.EVENTS_STREAM: ">"}, count=10)

    assert await survivor.reclaim_once(min_idle_ms=30_000) == 0  # too fresh: it may still be working
    assert await survivor.reclaim_once(min_idle_ms=0) == 1

    [entry] = await ctx.ledger.entries(WA, "marketing")
    assert entry.action.value == "opt_out"
    assert (await ctx.redis.xpending(keys.EVENTS_STREAM, bc_keys.EVENTS_GROUP))["pending"] == 0
    assert await survivor.reclaim_once(min_idle_ms=0) == 0  # acknowledged: never handled twice

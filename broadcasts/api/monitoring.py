"""What broadcasts' ``/readyz`` checks and ``/metrics`` samples (routes: observability.http)."""
from __future__ import annotations

from typing import List, Set

from connectors import keys as shared_keys
from observability.health import Check, mongo_check, redis_check
from observability.metrics import CAMPAIGN_RECIPIENTS, Sampler, stream_sampler

from .. import keys
from ..campaigns.state import CampaignState
from ..context import Context

STREAMS = (shared_keys.EVENTS_STREAM, *(keys.queue(p) for p in keys.PRIORITIES))
#: Campaign counters (``stats.*``) published per running or paused campaign.
STAGES = ("audience", "sent", "delivered", "read", "failed", "skipped", "replied")
ACTIVE = [CampaignState.RUNNING.value, CampaignState.PAUSED.value]


def checks(ctx: Context) -> List[Check]:
    return [redis_check(ctx.redis), mongo_check(ctx.mongo)]


def samplers(ctx: Context, published: Set[str]) -> List[Sampler]:
    """``published``: campaigns with gauges so far (kept by the app), so finished ones are removed."""

    async def campaign_progress() -> None:
        docs = ctx.campaigns.col.find({"state": {"$in": ACTIVE}}, {"stats": 1})
        active = set()
        async for doc in docs:
            active.add(str(doc["_id"]))
            stats = doc.get("stats") or {}
            for stage in STAGES:
                CAMPAIGN_RECIPIENTS.labels(str(doc["_id"]), stage).set(int(stats.get(stage) or 0))
        for campaign in published - active:
            CAMPAIGN_RECIPIENTS.remove_by_labels({"campaign": campaign})
        published.clear()
        published.update(active)

    return [stream_sampler(ctx.redis, lambda: STREAMS), campaign_progress]

"""What handoff's ``/readyz`` checks and ``/metrics`` samples (routes: observability.http)."""
from __future__ import annotations

from typing import List

from connectors import keys as shared_keys
from handoff import keys
from handoff.api.context import AppContext
from handoff.states import OPEN_STATUSES
from observability.health import Check, http_check, mongo_check, redis_check
from observability.metrics import HANDOFF_TICKETS, Sampler, stream_sampler

STREAMS = (shared_keys.EVENTS_STREAM, shared_keys.HANDOFF_INBOX_STREAM, keys.LIVE_STREAM)


def checks(ctx: AppContext) -> List[Check]:
    """Redis and MongoDB; Rasa (only with the ``rasa_api`` hand-back) is reported but optional:
    agents keep working without it, only the hand-back waits."""
    found = [redis_check(ctx.redis), mongo_check(ctx.mongo)]
    if ctx.settings.bot_resume == "rasa_api":
        rasa = ctx.settings.rasa_url.rstrip("/") + "/"
        found.append(http_check("rasa", lambda: ctx.http.get(rasa, timeout=2.0), required=False))
    return found


def samplers(ctx: AppContext) -> List[Sampler]:
    async def handoff_tickets() -> None:
        for status, count in (await ctx.ops.service.tickets.status_counts(OPEN_STATUSES)).items():
            HANDOFF_TICKETS.labels(status).set(count)

    return [stream_sampler(ctx.redis, lambda: STREAMS), handoff_tickets]

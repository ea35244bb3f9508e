"""How far the broadcasts event consumer has got: the time before which every event on
``parley:events`` has been handled (acknowledged by the ``broadcasts`` group).

A send lease is judged against it, not against the wall clock (``CampaignService.reclaim_leases``):
a dead worker's ``sending`` record is re-sent only if no status for it was *produced* within the
lease, and that is known only up to where the consumer has read. When the consumer lags (a
campaign's statuses pile up on a busy machine), a message the worker handed to Meta just before
dying has its ``sent`` status waiting in the stream: re-sending it on the wall clock sends it twice.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from connectors.keys import EVENTS_STREAM

from ..keys import EVENTS_GROUP


def _ms(entry_id: Any) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return int(text.split("-", 1)[0])


async def events_handled_until(redis: Any) -> float:
    """Epoch seconds: every event produced before it is handled (now, when nothing waits).

    The oldest event not yet acknowledged is the older of the group's oldest pending entry
    (delivered, not acknowledged) and its first undelivered one (just after ``last-delivered-id``)."""
    try:
        groups = await redis.xinfo_groups(EVENTS_STREAM)
    except Exception as exc:  # noqa: BLE001 - no stream yet: nothing was produced
        if "no such key" in str(exc).lower():
            return time.time()
        raise
    group = next((g for g in groups if _text(g.get("name")) == EVENTS_GROUP), None)
    if group is None:  # the consumer never started: nothing is known to be handled
        return time.time()
    oldest: Optional[int] = None
    if int(group.get("pending") or 0):
        summary = await redis.xpending(EVENTS_STREAM, EVENTS_GROUP)
        if summary.get("min"):
            oldest = _ms(summary["min"])
    undelivered = await redis.xrange(EVENTS_STREAM, min="(" + _text(group.get("last-delivered-id")), count=1)
    if undelivered:
        first = _ms(undelivered[0][0])
        oldest = first if oldest is None else min(oldest, first)
    return time.time() if oldest is None else oldest / 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")

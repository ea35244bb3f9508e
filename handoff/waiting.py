"""The queue as the customer sees it: their place and an expected wait, estimated from how
long agents took on recently resolved chats. Pure functions plus the one-per-stint notice."""
from __future__ import annotations

import logging
import statistics
from datetime import timedelta
from typing import Any, Callable, List, Sequence

from handoff import keys
from handoff.errors import HandoffError
from handoff.models import Ticket, iso, utcnow
from handoff.replies import Replies
from handoff.store.base import TicketStore

log = logging.getLogger(__name__)

#: Assumed handling time while no chat was resolved recently.
DEFAULT_HANDLING_S = 300.0
RECENT = timedelta(days=1)
RECENT_COUNT = 50


def expected_wait(position: int, handling_times: Sequence[float], capacity: int) -> float:
    """Seconds until the customer at `position` (1 = next) gets an agent: chats free up at
    `capacity` parallel slots, each taking the median recent handling time."""
    handling = statistics.median(handling_times) if handling_times else DEFAULT_HANDLING_S
    return position * handling / max(capacity, 1)


def notice_text(position: int, wait_s: float) -> str:
    """E.g. "You're #3 in the queue, about 4 minutes." """
    minutes = max(1, round(wait_s / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (f"You're #{position} in the queue, about {minutes} {unit}. "
            "An agent will reply right here.")


class QueueNotices:
    """Tells each waiting customer their place once per queue stint (a requeue starts a new
    one), through the shared Sender. A refused send (window closed...) is logged, not retried."""

    def __init__(self, tickets: TicketStore, replies: Replies, redis: Any,
                 clock: Callable[..., Any] = utcnow) -> None:
        self._tickets = tickets
        self._replies = replies
        self._redis = redis
        self._clock = clock

    async def tell(self, waiting: List[Ticket], capacity: int) -> int:
        """`waiting`: the queue in order (first = next). Returns how many customers were told."""
        if not waiting:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for ticket in waiting:
                stint = iso(ticket.waiting_since or ticket.queued_at) or ""
                pipe.set(keys.queue_notice(ticket.id, stint), 1, nx=True, ex=86400)
            fresh = await pipe.execute()
        if not any(fresh):
            return 0
        recent = await self._tickets.handling_times(self._clock() - RECENT, RECENT_COUNT)
        told = 0
        for position, (ticket, new) in enumerate(zip(waiting, fresh), start=1):
            if not new:
                continue
            text = notice_text(position, expected_wait(position, recent, capacity))
            try:
                await self._replies.send_text(ticket.wa_id, text, by="system:handoff")
                told += 1
            except HandoffError as exc:
                log.info("could not tell %s their place in the queue: %s", ticket.wa_id,
                         exc.message)
        return told

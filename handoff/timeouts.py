"""Queue time-out: a ticket queued longer than HANDOFF_QUEUE_TIMEOUT_MINUTES times out; the
customer is told nobody is free and that an agent will follow up (the ticket stays on the
follow-up list), and the bot owns the conversation again meanwhile."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Callable

from handoff.errors import ConflictError, HandoffError
from handoff.models import utcnow
from handoff.replies import Replies
from handoff.service import HandoffService

log = logging.getLogger(__name__)

NOTICE = ("Sorry, all our agents are busy right now. We have saved your request and an agent "
          "will follow up with you here. Meanwhile our assistant is back to help you.")


class QueueTimeouts:
    def __init__(self, service: HandoffService, replies: Replies, minutes: float,
                 interval_s: float = 30.0, clock: Callable[[], datetime] = utcnow) -> None:
        self._service = service
        self._replies = replies
        self._after = timedelta(minutes=minutes)
        self._interval_s = interval_s
        self._clock = clock
        self._running = True

    def stop(self) -> None:
        self._running = False

    async def sweep(self) -> int:
        """Time out every ticket waiting too long; returns how many."""
        count = 0
        for ticket in await self._service.tickets.waiting_before(self._clock() - self._after):
            try:
                await self._service.time_out(ticket.id)
            except ConflictError:
                continue  # claimed in the meantime: good
            count += 1
            try:
                await self._replies.send_text(ticket.wa_id, NOTICE, by="system:handoff")
            except HandoffError as exc:
                log.warning("could not tell %s about the time-out: %s", ticket.wa_id, exc.message)
        return count

    async def run(self) -> None:
        while self._running:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("queue time-out sweep failed")
            for _ in range(int(self._interval_s * 10)):  # sleep, but notice stop() soon
                if not self._running:
                    return
                await asyncio.sleep(0.1)

"""handoff.requested (as the bot emits it) -> a queued ticket."""
from __future__ import annotations

import logging
from typing import List

from connectors import events as ev
from handoff.consumers.group import Entry
from handoff.errors import BadRequest
from handoff.service import HandoffService

log = logging.getLogger(__name__)


class TicketRequests:
    def __init__(self, service: HandoffService) -> None:
        self._service = service

    async def __call__(self, entries: List[Entry]) -> None:
        for entry in entries:
            event = entry.event
            # Events carrying a ticket_id were emitted by this service: the ticket exists.
            if event.type != ev.HANDOFF_REQUESTED or event.data.get("ticket_id"):
                continue
            d = event.data
            try:
                await self._service.request(
                    str(d.get("wa_id") or ""), name=str(d.get("name") or ""),
                    reason=str(d.get("reason") or "asked"), context=d.get("context") or {},
                    by="bot", request_id=event.id or entry.id, emit=False)
            except BadRequest as exc:
                log.warning("ignoring handoff.requested %s: %s", entry.id, exc)

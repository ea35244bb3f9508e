"""The named transitions of a handoff ticket. Each one checks its predecessor atomically in the
store (status and owner in the update's filter), stamps times, appends to the audit trail, and
then updates the ownership record and emits its event (handoff.publisher). Nothing else changes
a ticket's status."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Callable, Dict, Optional

from handoff.errors import BadRequest, ConflictError, InvalidTransition, NotFound
from handoff.models import AuditEntry, Ticket, TicketUpdate, utcnow
from handoff.publisher import Publisher
from handoff.states import Action, Status, transition
from handoff.store.base import TicketStore

_STAMPS = {Status.ASSIGNED: "assigned_at", Status.RESOLVED: "resolved_at",
           Status.TIMED_OUT: "timed_out_at", Status.QUEUED: "waiting_since"}


def new_ticket_id(now: datetime) -> str:
    """Sortable by creation time (hex milliseconds, fixed width) and unique."""
    return f"t{int(now.timestamp() * 1000):012x}{secrets.token_hex(4)}"


class HandoffService:
    def __init__(self, tickets: TicketStore, publisher: Publisher,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.tickets = tickets
        self._publisher = publisher
        self._clock = clock

    async def request(self, wa_id: str, name: str = "", reason: str = "asked",
                      context: Optional[Dict[str, Any]] = None, by: str = "bot",
                      request_id: str = "", emit: bool = True) -> Ticket:
        """bot -> queued. Idempotent: a customer with an open ticket, or a repeated
        `request_id`, gets the existing ticket and no new event. `emit=False` when the request
        itself came from the events stream (the bot already emitted handoff.requested)."""
        if not wa_id:
            raise BadRequest("wa_id is required")
        now = self._clock()
        ticket = Ticket(
            id=new_ticket_id(now), wa_id=wa_id, name=name, status=Status.QUEUED, reason=reason,
            context=context or {}, queued_at=now, waiting_since=now, request_id=request_id,
            audit=[AuditEntry(now, by, Action.REQUEST.value, None, Status.QUEUED.value)],
        )
        stored, created = await self.tickets.create(ticket)
        if created:
            data = {"name": name, "reason": reason, "context": ticket.context}
            event = transition(Action.REQUEST).event if emit else None
            await self._publisher.publish(stored, event, data, Action.REQUEST.value, by)
        return stored

    async def claim(self, ticket_id: str, agent: str) -> Ticket:
        """queued|timed_out -> assigned to the calling agent. Of two agents claiming at once,
        exactly one wins; the other gets ConflictError."""
        return await self._move(ticket_id, Action.CLAIM, agent, by=f"agent:{agent}")

    async def assign(self, ticket_id: str, agent: str, by: str = "system") -> Ticket:
        """queued -> assigned to `agent` by a supervisor or the auto-assigner."""
        return await self._move(ticket_id, Action.ASSIGN, agent, by=by)

    async def transfer(self, ticket_id: str, to_agent: str, by: str) -> Ticket:
        """assigned(a) -> assigned(b)."""
        current = await self.get(ticket_id)
        if to_agent == current.agent:
            raise InvalidTransition("the ticket already belongs to this agent")
        return await self._move(ticket_id, Action.TRANSFER, to_agent, by=by,
                                extra={"from_agent": current.agent})

    async def requeue(self, ticket_id: str, by: str) -> Ticket:
        """assigned -> queued (transfer back to the queue)."""
        current = await self.get(ticket_id)
        return await self._move(ticket_id, Action.REQUEUE, "", by=by,
                                extra={"from_agent": current.agent})

    async def resolve(self, ticket_id: str, by: str) -> Ticket:
        """assigned|queued -> resolved; the bot owns the conversation again."""
        return await self._move(ticket_id, Action.RESOLVE, None, by=by)

    async def time_out(self, ticket_id: str, by: str = "system") -> Ticket:
        """queued (too long) -> timed_out; the bot owns the conversation again and the ticket
        waits on the follow-up list."""
        return await self._move(ticket_id, Action.TIME_OUT, "", by=by)

    async def record_reply(self, ticket: Ticket) -> None:
        """Stamp first_reply_at on the first agent reply of a ticket."""
        await self.tickets.mark_first_reply(ticket.id, self._clock())

    async def get(self, ticket_id: str) -> Ticket:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("no such ticket", ticket=ticket_id)
        return ticket

    async def _move(self, ticket_id: str, action: Action, agent: Optional[str], by: str,
                    extra: Optional[Dict[str, Any]] = None) -> Ticket:
        """Apply one row of the transition table. `agent` None keeps the current owner."""
        move = transition(action)
        current = await self.get(ticket_id)
        if current.status not in move.sources:
            raise InvalidTransition(
                f"cannot {action.value} a {current.status.value} ticket",
                ticket=ticket_id, status=current.status.value)
        now = self._clock()
        owner = current.agent if agent is None else agent
        stamps = {_STAMPS[move.target]: now}
        if move.target is Status.ASSIGNED and current.assigned_at is not None:
            stamps = {}  # queue time counts to the first assignment only
        update = TicketUpdate(
            status=move.target, agent=owner, wa_id=current.wa_id, stamps=stamps,
            audit=AuditEntry(now, by, action.value, current.status.value, move.target.value, owner),
        )
        # Filter on the status and owner we checked: a concurrent move makes this one fail.
        changed = await self.tickets.apply(ticket_id, {current.status}, update,
                                           expect_agent=current.agent)
        if changed is None:
            raise ConflictError("the ticket was changed by someone else; reload it",
                                ticket=ticket_id)
        data = {"agent": changed.agent, "by": by, "status": changed.status.value, **(extra or {})}
        await self._publisher.publish(changed, move.event, data, action.value, by)
        return changed

"""In-memory twin of the stores, for tests and single-process demos. Every method runs without
awaiting in between, so each call is atomic on the event loop, like one MongoDB operation."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Collection, Dict, List, Optional, Sequence, Tuple

from handoff import analytics
from handoff.errors import ConflictError
from handoff.models import (RANK_STATUS, STATUS_RANK, Agent, StatusUpdate, Ticket, TicketUpdate,
                            TranscriptEntry)
from handoff.states import Status


class MemoryTicketStore:
    def __init__(self) -> None:
        self._tickets: Dict[str, Ticket] = {}

    async def create(self, ticket: Ticket) -> Tuple[Ticket, bool]:
        for existing in self._tickets.values():
            if ticket.request_id and existing.request_id == ticket.request_id:
                return existing, False
            if existing.wa_id == ticket.wa_id and existing.status.is_open:
                return existing, False
        self._tickets[ticket.id] = ticket
        return ticket, True

    async def get(self, ticket_id: str) -> Optional[Ticket]:
        return self._tickets.get(ticket_id)

    async def open_for(self, wa_id: str) -> Optional[Ticket]:
        return next((t for t in self._tickets.values() if t.wa_id == wa_id and t.status.is_open),
                    None)

    async def apply(self, ticket_id: str, sources: Collection[Status], update: TicketUpdate,
                    expect_agent: Optional[str] = None) -> Optional[Ticket]:
        current = self._tickets.get(ticket_id)
        if current is None or current.status not in sources:
            return None
        if expect_agent is not None and current.agent != expect_agent:
            return None
        if update.status.is_open and not current.status.is_open:
            other = await self.open_for(current.wa_id)
            if other is not None:
                raise ConflictError("the customer already has an open ticket", ticket=other.id)
        changed = current.with_changes(status=update.status, agent=update.agent,
                                       audit=[*current.audit, update.audit], **update.stamps)
        self._tickets[ticket_id] = changed
        return changed

    async def mark_first_reply(self, ticket_id: str, at: datetime) -> bool:
        current = self._tickets.get(ticket_id)
        if current is None or current.first_reply_at is not None:
            return False
        self._tickets[ticket_id] = current.with_changes(first_reply_at=at)
        return True

    async def list(self, statuses: Collection[Status], agent: Optional[str] = None,
                   limit: int = 200) -> List[Ticket]:
        found = [t for t in self._tickets.values()
                 if t.status in statuses and (agent is None or t.agent == agent)]
        return sorted(found, key=lambda t: t.queued_at)[:limit]

    async def waiting_before(self, cutoff: datetime, limit: int = 100) -> List[Ticket]:
        found = [t for t in self._tickets.values()
                 if t.status is Status.QUEUED and (t.waiting_since or t.queued_at) < cutoff]
        return sorted(found, key=lambda t: t.waiting_since or t.queued_at)[:limit]

    async def open_counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for t in self._tickets.values():
            if t.status is Status.ASSIGNED:
                counts[t.agent] = counts.get(t.agent, 0) + 1
        return counts

    async def status_counts(self, statuses: Collection[Status]) -> Dict[str, int]:
        counts = {s.value: 0 for s in statuses}
        for t in self._tickets.values():
            if t.status.value in counts:
                counts[t.status.value] += 1
        return counts

    async def handling_times(self, since: datetime, limit: int = 50) -> List[float]:
        done = sorted((t for t in self._tickets.values()
                       if t.status is Status.RESOLVED and t.assigned_at and t.resolved_at
                       and t.resolved_at >= since), key=lambda t: t.resolved_at, reverse=True)  # type: ignore[arg-type, return-value]
        return [(t.resolved_at - t.assigned_at).total_seconds() for t in done[:limit]]  # type: ignore[operator]

    async def analytics(self, since: datetime) -> Dict[str, Any]:
        return analytics.report(analytics.summarize(self._tickets.values(), since))


class MemoryTranscriptStore:
    def __init__(self) -> None:
        self._entries: Dict[str, TranscriptEntry] = {}
        self._ranks: Dict[str, Tuple[int, List[Dict[str, Any]]]] = {}

    async def write(self, entries: Sequence[TranscriptEntry],
                    statuses: Sequence[StatusUpdate] = ()) -> None:
        for entry in entries:
            self._entries[entry.id] = entry
        for update in statuses:
            rank, errors = self._ranks.get(update.wamid, (0, []))
            if update.rank > rank:
                self._ranks[update.wamid] = (update.rank, update.errors or errors)

    async def history(self, wa_id: str, limit: int = 500) -> List[TranscriptEntry]:
        found = sorted((e for e in self._entries.values() if e.wa_id == wa_id), key=lambda e: (e.seq, e.at))
        return [self._with_status(e) for e in found[-limit:]]

    def _with_status(self, entry: TranscriptEntry) -> TranscriptEntry:
        rank, errors = self._ranks.get(entry.id, (STATUS_RANK.get(entry.status, 0), entry.errors))
        return dataclasses.replace(entry, status=RANK_STATUS.get(rank, entry.status), errors=errors)


class MemoryAgentStore:
    def __init__(self) -> None:
        self._agents: Dict[str, Agent] = {}
        self._tokens: Dict[str, str] = {}

    async def create(self, agent: Agent) -> None:
        if agent.id in self._agents or await self.by_email(agent.email):
            raise ConflictError("an agent with this id or email exists", agent=agent.id)
        self._agents[agent.id] = dataclasses.replace(agent, email=agent.email.lower())

    async def get(self, agent_id: str) -> Optional[Agent]:
        return self._agents.get(agent_id)

    async def by_email(self, email: str) -> Optional[Agent]:
        return next((a for a in self._agents.values() if a.email == email.lower()), None)

    async def list(self) -> List[Agent]:
        return sorted(self._agents.values(), key=lambda a: a.id)

    async def update(self, agent_id: str, **fields: Any) -> Optional[Agent]:
        if agent_id not in self._agents:
            return None
        self._agents[agent_id] = dataclasses.replace(self._agents[agent_id], **fields)
        return self._agents[agent_id]

    async def add_token(self, token_hash: str, agent_id: str, label: str) -> None:
        self._tokens[token_hash] = agent_id

    async def agent_for_token(self, token_hash: str) -> Optional[str]:
        return self._tokens.get(token_hash)

    async def revoke_token(self, token_hash: str) -> bool:
        return self._tokens.pop(token_hash, None) is not None

"""The storage interfaces of the handoff service. Backends: `memory` (tests, the twin) and
`mongo` (motor). `tests/handoff/test_store_contract.py` runs the same assertions on both."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Dict, List, Optional, Protocol, Sequence, Tuple

from handoff.models import Agent, StatusUpdate, Ticket, TicketUpdate, TranscriptEntry
from handoff.states import Status


class TicketStore(Protocol):
    async def create(self, ticket: Ticket) -> Tuple[Ticket, bool]:
        """Insert an open ticket. If `ticket.request_id` was seen, or the customer already has an
        open ticket, store nothing and return (that ticket, False)."""

    async def get(self, ticket_id: str) -> Optional[Ticket]: ...

    async def open_for(self, wa_id: str) -> Optional[Ticket]: ...

    async def apply(self, ticket_id: str, sources: Collection[Status], update: TicketUpdate,
                    expect_agent: Optional[str] = None) -> Optional[Ticket]:
        """Atomically apply `update` if the ticket's status is in `sources` (and, when given, its
        agent is `expect_agent`); return the updated ticket, or None if the check failed."""

    async def mark_first_reply(self, ticket_id: str, at: datetime) -> bool:
        """Stamp first_reply_at once; True if this call stamped it."""

    async def list(self, statuses: Collection[Status], agent: Optional[str] = None,
                   limit: int = 200) -> List[Ticket]:
        """Tickets in `statuses` (of `agent` if given), oldest queued first."""

    async def waiting_before(self, cutoff: datetime, limit: int = 100) -> List[Ticket]:
        """Queued tickets waiting (since the request or the last requeue) since before `cutoff`."""

    async def open_counts(self) -> Dict[str, int]:
        """Assigned tickets per agent."""

    async def status_counts(self, statuses: Collection[Status]) -> Dict[str, int]:
        """Tickets per status (every one of `statuses`, 0 if none): the metrics' queue gauges."""

    async def handling_times(self, since: datetime, limit: int = 50) -> List[float]:
        """Seconds from first assignment to resolution of the latest `limit` tickets resolved
        since `since`, newest first (the queue's expected-wait estimate)."""

    async def analytics(self, since: datetime) -> Dict[str, Any]:
        """Per-day, per-agent and per-reason figures of tickets queued since `since`
        (shape: see handoff.analytics)."""


class TranscriptStore(Protocol):
    async def write(self, entries: Sequence[TranscriptEntry],
                    statuses: Sequence[StatusUpdate] = ()) -> None:
        """Idempotent batch write: entries keyed by id, statuses applied monotonically."""

    async def history(self, wa_id: str, limit: int = 500) -> List[TranscriptEntry]:
        """The latest `limit` entries of a conversation, oldest first."""


class AgentStore(Protocol):
    async def create(self, agent: Agent) -> None:
        """Raises ConflictError if the id or email is taken."""

    async def get(self, agent_id: str) -> Optional[Agent]: ...

    async def by_email(self, email: str) -> Optional[Agent]: ...

    async def list(self) -> List[Agent]: ...

    async def update(self, agent_id: str, **fields: Any) -> Optional[Agent]: ...

    async def add_token(self, token_hash: str, agent_id: str, label: str) -> None: ...

    async def agent_for_token(self, token_hash: str) -> Optional[str]: ...

    async def revoke_token(self, token_hash: str) -> bool: ...

"""Who may see and do what. Admins and supervisors see everything; an agent sees the queue
(queued and timed-out tickets) and their own chats. Every endpoint asks these functions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from handoff.errors import Forbidden
from handoff.models import Role, Ticket
from handoff.states import Status

QUEUE_STATUSES = (Status.QUEUED, Status.TIMED_OUT)


@dataclass(frozen=True)
class Caller:
    agent_id: str
    role: Role
    via: str = "session"  # "session" (console cookie) or "token" (REST API bearer token)
    session: str = ""     # hashed session id, for logout

    @property
    def by(self) -> str:
        """The actor name written in audit trails and events."""
        return f"agent:{self.agent_id}" if self.via == "session" else f"api:{self.agent_id}"


def can_view(caller: Caller, ticket: Ticket) -> bool:
    return (caller.role.sees_everything or ticket.status in QUEUE_STATUSES
            or ticket.agent == caller.agent_id)


def check_view(caller: Caller, ticket: Ticket) -> None:
    if not can_view(caller, ticket):
        raise Forbidden("this chat belongs to another agent", ticket=ticket.id)


def check_owner_or_supervisor(caller: Caller, ticket: Ticket) -> None:
    """Transfer, requeue and resolve: the owner, or someone who sees everything."""
    check_view(caller, ticket)
    if not (caller.role.sees_everything or ticket.agent == caller.agent_id):
        raise Forbidden("only the agent who owns this chat (or a supervisor) may do that",
                        ticket=ticket.id)


def check_owner(caller: Caller, ticket: Ticket) -> None:
    """Replies: only the agent who owns the chat speaks in it."""
    check_view(caller, ticket)
    if ticket.agent != caller.agent_id or ticket.status is not Status.ASSIGNED:
        raise Forbidden("claim the chat before replying", ticket=ticket.id)


def check_role(caller: Caller, *roles: Role) -> None:
    if caller.role not in roles:
        raise Forbidden("your role may not do this")


def live_view(caller: Caller, kind: str, data: Dict[str, Any], status: str,
              agent: str) -> Optional[Dict[str, Any]]:
    """What `caller` may see of one live-feed entry (None: nothing). `status`/`agent` describe
    the ticket or conversation it belongs to, as of now."""
    mine = bool(agent) and agent == caller.agent_id
    queue = status in (Status.QUEUED.value, Status.TIMED_OUT.value)
    if caller.role.sees_everything or mine or queue:
        return data
    if kind == "ticket":
        # Enough for the console to drop it from the queue, nothing about the chat.
        return {"id": data.get("id"), "status": "hidden", "seq": data.get("seq", 0)}
    return None

"""What a caller (console agent or API integrator) can do, with the access checks, in one place.
The HTTP routes only translate requests to these calls and results to JSON."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping

from handoff.access import Caller, check_owner, check_owner_or_supervisor, check_role, check_view
from handoff.errors import BadRequest, ConflictError, NotFound
from handoff.handback import BotResumer
from handoff.models import HANDOFF_ROLES, Role, Ticket
from handoff.replies import Replies
from handoff.service import HandoffService
from handoff.states import OPEN_STATUSES, Status
from handoff.store.base import AgentStore, TranscriptStore

VIEWS = {"queue": (Status.QUEUED,), "followup": (Status.TIMED_OUT,),
         "mine": (Status.ASSIGNED,), "open": tuple(OPEN_STATUSES),
         "resolved": (Status.RESOLVED,), "all": tuple(Status)}


@dataclass
class Operations:
    service: HandoffService
    transcript: TranscriptStore
    agents: AgentStore
    replies: Replies
    resumer: BotResumer

    async def list(self, caller: Caller, view: str = "queue", limit: int = 200) -> List[Ticket]:
        if view not in VIEWS:
            raise BadRequest(f"view must be one of {', '.join(VIEWS)}")
        statuses = VIEWS[view]
        if view in ("queue", "followup"):
            return await self.service.tickets.list(statuses, limit=limit)
        # "mine" is always the caller's; other views are everyone's only for supervisors.
        agent = None if caller.role.sees_everything and view != "mine" else caller.agent_id
        return await self.service.tickets.list(statuses, agent=agent, limit=limit)

    async def detail(self, caller: Caller, ticket_id: str) -> Dict[str, Any]:
        ticket = await self.service.get(ticket_id)
        check_view(caller, ticket)
        history = await self.transcript.history(ticket.wa_id)
        return {"ticket": ticket.to_json(), "transcript": [e.to_json() for e in history],
                "window": await self.replies.window(ticket.wa_id)}

    async def request(self, caller: Caller, body: Mapping[str, Any]) -> Ticket:
        return await self.service.request(
            str(body.get("wa_id") or ""), name=str(body.get("name") or ""),
            reason=str(body.get("reason") or "api"), context=dict(body.get("context") or {}),
            by=caller.by)

    async def claim(self, caller: Caller, ticket_id: str) -> Ticket:
        ticket = await self.service.get(ticket_id)
        if ticket.status is Status.ASSIGNED and ticket.agent != caller.agent_id:
            # Lost the race (or came late): a conflict, not a permission problem.
            raise ConflictError("another agent claimed this chat first", ticket=ticket_id)
        check_view(caller, ticket)
        return await self.service.claim(ticket_id, caller.agent_id)

    async def assign(self, caller: Caller, ticket_id: str, agent_id: str) -> Ticket:
        check_role(caller, Role.ADMIN, Role.SUPERVISOR)
        await self._agent(agent_id)
        return await self.service.assign(ticket_id, agent_id, by=caller.by)

    async def transfer(self, caller: Caller, ticket_id: str, agent_id: str) -> Ticket:
        """To another agent, or back to the queue when `agent_id` is empty."""
        check_owner_or_supervisor(caller, await self.service.get(ticket_id))
        if not agent_id:
            return await self.service.requeue(ticket_id, by=caller.by)
        await self._agent(agent_id)
        return await self.service.transfer(ticket_id, agent_id, by=caller.by)

    async def resolve(self, caller: Caller, ticket_id: str) -> Dict[str, Any]:
        """Resolve, then hand the conversation back to the bot."""
        check_owner_or_supervisor(caller, await self.service.get(ticket_id))
        ticket = await self.service.resolve(ticket_id, by=caller.by)
        bot = await self.resumer.resume(ticket.wa_id, ticket.name, ticket.id)
        return {"ticket": ticket.to_json(), "bot": bot}

    async def reply(self, caller: Caller, ticket_id: str, body: Mapping[str, Any]) -> Dict[str, Any]:
        """`{"text": ...}` or `{"template": {"name", "language", "params"}}`."""
        ticket = await self.service.get(ticket_id)
        check_owner(caller, ticket)
        by = f"agent:{caller.agent_id}"
        template = body.get("template")
        if isinstance(template, Mapping):
            sent = await self.replies.send_template(
                ticket.wa_id, str(template.get("name", "")), str(template.get("language", "")),
                template.get("params"), by)
        elif isinstance(body.get("text"), str):
            sent = await self.replies.send_text(ticket.wa_id, body["text"], by)
        else:
            raise BadRequest("send {\"text\": ...} or {\"template\": {...}}")
        if ticket.first_reply_at is None:
            await self.service.record_reply(ticket)
        return sent

    async def _agent(self, agent_id: str) -> None:
        agent = await self.agents.get(agent_id)
        if agent is None or not agent.active or agent.role not in HANDOFF_ROLES:
            raise NotFound("no such agent", agent=agent_id)


"""Every named transition: its effect on the ticket, the ownership record and the events stream,
and the refusals of moves the transition table does not allow (on both store backends)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from connectors import keys as shared_keys
from connectors.events import Event
from connectors.ownership import Owner, Ownership
from handoff import keys
from handoff.errors import ConflictError, InvalidTransition, NotFound
from handoff.service import HandoffService
from handoff.states import TRANSITIONS, Action, Status, allowed

CONTEXT = {"last_intent": "human", "slots": {"order": "A1"}, "turns": []}


async def ownership(redis: Any, wa_id: str) -> Ownership:
    return Ownership.from_hash(await redis.hgetall(shared_keys.ownership(wa_id)))


async def events(redis: Any, stream: str = shared_keys.EVENTS_STREAM) -> List[Event]:
    return [Event.from_fields(f) for _, f in await redis.xrange(stream)]


def test_table_shape() -> None:
    assert allowed(Action.REQUEST, None) and not allowed(Action.REQUEST, Status.QUEUED)
    assert allowed(Action.CLAIM, Status.QUEUED) and not allowed(Action.CLAIM, Status.ASSIGNED)
    assert not allowed(Action.RESOLVE, Status.RESOLVED)
    assert {t.target for t in TRANSITIONS.values()} == set(Status)


async def test_full_life_request_claim_transfer_requeue_resolve(service: HandoffService, redis: Any) -> None:
    ticket = await service.request("111", "Ann", "fallback", CONTEXT, request_id="ev-1")
    assert ticket.status is Status.QUEUED and ticket.queued_at and ticket.waiting_since
    assert await ownership(redis, "111") == Ownership(Owner.QUEUED, "", ticket.id)
    assert (await service.request("111", "Ann", "asked")).id == ticket.id  # idempotent

    claimed = await service.claim(ticket.id, "ann")
    assert claimed.status is Status.ASSIGNED and claimed.agent == "ann" and claimed.assigned_at
    assert await ownership(redis, "111") == Ownership(Owner.ASSIGNED, "ann", ticket.id)

    moved = await service.transfer(ticket.id, "bob", by="agent:ann")
    assert moved.agent == "bob" and moved.assigned_at == claimed.assigned_at
    assert (await ownership(redis, "111")).agent == "bob"

    back = await service.requeue(ticket.id, by="agent:bob")
    assert back.status is Status.QUEUED and back.agent == "" and back.waiting_since > ticket.waiting_since
    assert (await ownership(redis, "111")).owner is Owner.QUEUED

    await service.claim(ticket.id, "cid")
    await service.record_reply(await service.get(ticket.id))
    done = await service.resolve(ticket.id, by="agent:cid")
    assert done.status is Status.RESOLVED and done.resolved_at and done.first_reply_at
    assert not await redis.exists(shared_keys.ownership("111"))

    trail = [(a.action, a.from_status, a.to_status, a.agent, a.by) for a in done.audit]
    assert trail == [("request", None, "queued", "", "bot"),
                     ("claim", "queued", "assigned", "ann", "agent:ann"),
                     ("transfer", "assigned", "assigned", "bob", "agent:ann"),
                     ("requeue", "assigned", "queued", "", "agent:bob"),
                     ("claim", "queued", "assigned", "cid", "agent:cid"),
                     ("resolve", "assigned", "resolved", "cid", "agent:cid")]
    emitted = await events(redis)
    assert [e.type for e in emitted] == ["handoff.requested", "handoff.assigned", "handoff.transferred",
                                         "handoff.transferred", "handoff.assigned", "handoff.resolved"]
    assert emitted[0].data["reason"] == "fallback" and emitted[0].data["context"] == CONTEXT
    assert emitted[2].data["from_agent"] == "ann" and emitted[2].data["agent"] == "bob"
    assert emitted[-1].data["ticket_id"] == ticket.id and emitted[-1].data["agent"] == "cid"
    assert len({e.id for e in emitted}) == 6
    live = await events(redis, keys.LIVE_STREAM)
    assert [e.data["action"] for e in live] == ["request", "claim", "transfer", "requeue", "claim", "resolve"]

    again = await service.request("111", "Ann", "asked")
    assert again.id != ticket.id, "after resolution a new request opens a new ticket"


async def test_request_from_the_bot_event_is_not_re_emitted(service: HandoffService, redis: Any) -> None:
    await service.request("111", emit=False, request_id="ev-9")
    await service.request("111", emit=False, request_id="ev-9")
    assert await events(redis) == []
    assert len(await events(redis, keys.LIVE_STREAM)) == 1


async def test_time_out_then_follow_up_claim(service: HandoffService, redis: Any) -> None:
    ticket = await service.request("222")
    timed = await service.time_out(ticket.id)
    assert timed.status is Status.TIMED_OUT and timed.timed_out_at
    assert not await redis.exists(shared_keys.ownership("222"))
    assert (await events(redis))[-1].type == "handoff.timed_out"
    follow = await service.claim(ticket.id, "ann")
    assert follow.status is Status.ASSIGNED
    assert (await ownership(redis, "222")).owner is Owner.ASSIGNED


@pytest.mark.parametrize("action,status", [
    (Action.CLAIM, Status.ASSIGNED), (Action.CLAIM, Status.RESOLVED),
    (Action.ASSIGN, Status.TIMED_OUT), (Action.TRANSFER, Status.QUEUED),
    (Action.REQUEUE, Status.QUEUED), (Action.RESOLVE, Status.RESOLVED),
    (Action.RESOLVE, Status.TIMED_OUT), (Action.TIME_OUT, Status.ASSIGNED),
])
async def test_illegal_transitions_are_refused(service: HandoffService, redis: Any,
                                               action: Action, status: Status) -> None:
    ticket = await service.request("333")
    if status is Status.ASSIGNED:
        await service.claim(ticket.id, "ann")
    elif status is Status.RESOLVED:
        await service.resolve(ticket.id, by="system")
    elif status is Status.TIMED_OUT:
        await service.time_out(ticket.id)
    before = await service.get(ticket.id)
    calls: Dict[Action, Any] = {
        Action.CLAIM: lambda: service.claim(ticket.id, "bob"),
        Action.ASSIGN: lambda: service.assign(ticket.id, "bob"),
        Action.TRANSFER: lambda: service.transfer(ticket.id, "bob", by="x"),
        Action.REQUEUE: lambda: service.requeue(ticket.id, by="x"),
        Action.RESOLVE: lambda: service.resolve(ticket.id, by="x"),
        Action.TIME_OUT: lambda: service.time_out(ticket.id),
    }
    with pytest.raises(InvalidTransition):
        await calls[action]()
    assert await service.get(ticket.id) == before


async def test_transfer_to_the_same_agent_and_unknown_ticket(service: HandoffService) -> None:
    ticket = await service.request("444")
    await service.claim(ticket.id, "ann")
    with pytest.raises(InvalidTransition):
        await service.transfer(ticket.id, "ann", by="agent:ann")
    with pytest.raises(NotFound):
        await service.claim("nope", "ann")


async def test_concurrent_claims_one_winner(service: HandoffService, redis: Any) -> None:
    ticket = await service.request("555")
    results = await asyncio.gather(*[service.claim(ticket.id, a) for a in ("ann", "bob", "cid", "dan")],
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
    assert (await ownership(redis, "555")).agent == winners[0].agent
    assert [e.type for e in await events(redis)].count("handoff.assigned") == 1


async def test_stale_ownership_write_loses(service: HandoffService, redis: Any) -> None:
    """A late write of an older transition never overwrites a newer state."""
    ticket = await service.request("666")
    claimed = await service.claim(ticket.id, "ann")
    await service.resolve(ticket.id, by="agent:ann")
    await service._publisher.publish(claimed, None, {}, "claim", "late")
    assert not await redis.exists(shared_keys.ownership("666"))

"""One contract, run on the in-memory twin and on MongoDB."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, Dict

import pytest

from handoff.errors import ConflictError
from handoff.models import Agent, AuditEntry, Role, StatusUpdate, Ticket, TicketUpdate, TranscriptEntry
from handoff.states import Status

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def ticket(tid: str, wa_id: str, at: datetime = T0, request_id: str = "", reason: str = "asked") -> Ticket:
    return Ticket(id=tid, wa_id=wa_id, name="Ann", status=Status.QUEUED, reason=reason,
                  context={"last_intent": "human"}, queued_at=at, waiting_since=at,
                  request_id=request_id,
                  audit=[AuditEntry(at, "bot", "request", None, "queued")])


def update(status: Status, agent: str, wa_id: str, at: datetime, **stamps: datetime) -> TicketUpdate:
    return TicketUpdate(status=status, agent=agent, wa_id=wa_id, stamps=stamps,
                        audit=AuditEntry(at, f"agent:{agent}", "x", None, status.value, agent))


async def test_create_is_idempotent_per_request_and_per_open_customer(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    first, created = await tickets.create(ticket("t1", "111", request_id="ev1"))
    assert created and first.id == "t1"
    again, created = await tickets.create(ticket("t2", "111", request_id="ev2"))
    assert not created and again.id == "t1"
    other, created = await tickets.create(ticket("t3", "222", request_id="ev1"))
    assert not created and other.id == "t1"
    assert (await tickets.open_for("111")).id == "t1"
    assert await tickets.open_for("222") is None
    got = await tickets.get("t1")
    assert got.context == {"last_intent": "human"} and got.queued_at == T0
    assert got.audit[0].by == "bot" and got.audit[0].to_status == "queued"


async def test_apply_checks_status_and_owner(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    await tickets.create(ticket("t1", "111"))
    at = T0 + timedelta(minutes=2)
    won = await tickets.apply("t1", {Status.QUEUED}, update(Status.ASSIGNED, "ann", "111", at,
                                                          assigned_at=at), expect_agent="")
    assert won.status is Status.ASSIGNED and won.agent == "ann" and won.assigned_at == at
    assert len(won.audit) == 2
    lost = await tickets.apply("t1", {Status.QUEUED}, update(Status.ASSIGNED, "bob", "111", at),
                               expect_agent="")
    assert lost is None
    wrong_owner = await tickets.apply("t1", {Status.ASSIGNED},
                                      update(Status.RESOLVED, "bob", "111", at), expect_agent="bob")
    assert wrong_owner is None
    assert await tickets.apply("nope", {Status.QUEUED}, update(Status.ASSIGNED, "a", "1", at)) is None
    closed = await tickets.apply("t1", {Status.ASSIGNED},
                                 update(Status.RESOLVED, "ann", "111", at, resolved_at=at))
    assert closed.status is Status.RESOLVED and await tickets.open_for("111") is None
    _, created = await tickets.create(ticket("t2", "111"))
    assert created, "a closed ticket does not block a new one"


async def test_concurrent_apply_has_one_winner(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    await tickets.create(ticket("t1", "111"))
    results = await asyncio.gather(*[
        tickets.apply("t1", {Status.QUEUED}, update(Status.ASSIGNED, name, "111", T0), expect_agent="")
        for name in ("ann", "bob", "cid")])
    assert sum(r is not None for r in results) == 1


async def test_reopening_a_closed_ticket_conflicts_with_an_open_one(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    await tickets.create(ticket("t1", "111"))
    await tickets.apply("t1", {Status.QUEUED}, update(Status.TIMED_OUT, "", "111", T0))
    await tickets.create(ticket("t2", "111"))
    with pytest.raises(ConflictError):
        await tickets.apply("t1", {Status.TIMED_OUT}, update(Status.ASSIGNED, "ann", "111", T0))


async def test_lists_first_reply_counts_and_queue_age(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    for i, wa in enumerate(["1", "2", "3"]):
        await tickets.create(ticket(f"t{i}", wa, at=T0 + timedelta(minutes=i)))
    await tickets.apply("t1", {Status.QUEUED}, update(Status.ASSIGNED, "ann", "2", T0))
    assert [t.id for t in await tickets.list({Status.QUEUED})] == ["t0", "t2"]
    assert [t.id for t in await tickets.list({Status.ASSIGNED, Status.QUEUED}, agent="ann")] == ["t1"]
    assert [t.id for t in await tickets.waiting_before(T0 + timedelta(minutes=1, seconds=30))] == ["t0"]
    assert await tickets.open_counts() == {"ann": 1}
    assert await tickets.status_counts({Status.QUEUED, Status.ASSIGNED, Status.RESOLVED}) == \
        {"queued": 2, "assigned": 1, "resolved": 0}
    assert await tickets.mark_first_reply("t1", T0) is True
    assert await tickets.mark_first_reply("t1", T0 + timedelta(minutes=9)) is False
    assert (await tickets.get("t1")).first_reply_at == T0


async def test_analytics(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    await tickets.create(ticket("t1", "1", reason="asked"))
    await tickets.create(ticket("t2", "2", reason="fallback"))
    await tickets.create(ticket("t3", "3", reason="asked", at=T0 + timedelta(days=1)))
    a, f, r = (T0 + timedelta(seconds=s) for s in (60, 90, 600))
    await tickets.apply("t1", {Status.QUEUED}, update(Status.ASSIGNED, "ann", "1", a, assigned_at=a))
    await tickets.mark_first_reply("t1", f)
    await tickets.apply("t1", {Status.ASSIGNED}, update(Status.RESOLVED, "ann", "1", r, resolved_at=r))
    await tickets.apply("t2", {Status.QUEUED}, update(Status.TIMED_OUT, "", "2", r, timed_out_at=r))
    report = await tickets.analytics(T0 - timedelta(days=1))
    day1, day2 = report["days"]
    assert day1 == {"day": "2025-03-01", "requested": 2, "assigned": 1, "resolved": 1,
                    "timed_out": 1, "avg_queue_s": 60.0, "avg_first_reply_s": 30.0,
                    "avg_handling_s": 540.0}
    assert day2["requested"] == 1 and day2["avg_queue_s"] is None
    assert report["agents"] == [{"agent": "ann", "requested": 1, "assigned": 1, "resolved": 1,
                                 "timed_out": 0, "avg_queue_s": 60.0, "avg_first_reply_s": 30.0,
                                 "avg_handling_s": 540.0}]
    assert report["reasons"] == [{"reason": "asked", "count": 2}, {"reason": "fallback", "count": 1}]
    assert (await tickets.analytics(T0 + timedelta(hours=12)))["reasons"] == [
        {"reason": "asked", "count": 1}]


async def test_transcript_is_idempotent_and_statuses_monotonic(stores: Dict[str, Any]) -> None:
    transcript = stores["transcript"]
    inbound = TranscriptEntry("wamid.in", "111", T0, "in", "customer", text="hello", seq=1.0)
    outbound = TranscriptEntry("wamid.out", "111", T0 + timedelta(seconds=5), "out", "agent:ann",
                               text="hi!", seq=2.0)
    # A status may arrive before the message it belongs to; a stale one never wins.
    await transcript.write([], [StatusUpdate("wamid.out", "111", "delivered", T0)])
    await transcript.write([inbound, outbound, inbound],
                           [StatusUpdate("wamid.out", "111", "sent", T0)])
    await transcript.write([TranscriptEntry("x", "222", T0, "in", "customer", text="other")])
    history = await transcript.history("111")
    assert [(e.id, e.text, e.status) for e in history] == [
        ("wamid.in", "hello", ""), ("wamid.out", "hi!", "delivered")]
    await transcript.write([], [StatusUpdate("wamid.out", "111", "read", T0)])
    assert (await transcript.history("111"))[-1].status == "read"
    assert [e.id for e in await transcript.history("111", limit=1)] == ["wamid.out"]


async def test_agents_and_tokens(stores: Dict[str, Any]) -> None:
    agents = stores["agents"]
    await agents.create(Agent("ann", "Ann@Example.com", "Ann", Role.AGENT, "hash"))
    with pytest.raises(ConflictError):
        await agents.create(Agent("ann2", "ann@example.com", "Ann", Role.AGENT, "hash"))
    with pytest.raises(ConflictError):
        await agents.create(Agent("ann", "other@example.com", "Ann", Role.AGENT, "hash"))
    assert (await agents.by_email("ANN@example.com")).id == "ann"
    updated = await agents.update("ann", role=Role.SUPERVISOR, capacity=3)
    assert updated.role is Role.SUPERVISOR and updated.capacity == 3
    assert (await agents.get("ann")).role is Role.SUPERVISOR
    assert [a.id for a in await agents.list()] == ["ann"]
    await agents.add_token("h1", "ann", "crm")
    assert await agents.agent_for_token("h1") == "ann"
    assert await agents.revoke_token("h1") is True
    assert await agents.agent_for_token("h1") is None


async def test_handling_times_newest_first(stores: Dict[str, Any]) -> None:
    tickets = stores["tickets"]
    for n, (handled, resolved_after) in enumerate([(120, 600), (300, 900), (60, 60)]):
        tid, wa_id = f"h{n}", f"9{n}"
        await tickets.create(ticket(tid, wa_id))
        assigned = T0 + timedelta(seconds=resolved_after)
        done = assigned + timedelta(seconds=handled)
        await tickets.apply(tid, {Status.QUEUED}, update(Status.ASSIGNED, "ann", wa_id, assigned,
                                                          assigned_at=assigned))
        await tickets.apply(tid, {Status.ASSIGNED}, update(Status.RESOLVED, "ann", wa_id, done,
                                                            resolved_at=done))
    await tickets.create(ticket("open", "99"))  # never assigned: no handling time
    assert await tickets.handling_times(T0) == [300.0, 120.0, 60.0]
    assert await tickets.handling_times(T0, limit=2) == [300.0, 120.0]
    assert await tickets.handling_times(T0 + timedelta(seconds=700)) == [300.0, 120.0]
    assert await tickets.handling_times(T0 + timedelta(days=1)) == []

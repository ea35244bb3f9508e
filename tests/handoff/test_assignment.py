"""Auto-assignment: round robin and least loaded among online agents under their capacity, the
FIFO queue when everyone is full (customers told their place and expected wait, once), agent
presence, the race with a manual claim, and the whole thing running inside the app."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any, Dict, List

import pytest
import websockets

from connectors import keys as shared_keys
from connectors.client import GraphClient
from connectors.events import Event
from connectors.ownership import Owner, Ownership
from connectors.sender import Sender
from connectors.window import refresh_window
from handoff import keys
from handoff.assignment import BY, Assigner, Strategy, pick
from handoff.models import Agent, Role, utcnow
from handoff.presence import Presence
from handoff.replies import Replies
from handoff.service import HandoffService
from handoff.states import Status
from handoff.waiting import QueueNotices, expected_wait, notice_text
from tests.handoff.server import Agent as Client
from tests.handoff.server import running, settings_for
from tests.handoff.test_consumers import eventually


def agent(agent_id: str, capacity: int = 5, active: bool = True) -> Agent:
    return Agent(agent_id, f"{agent_id}@x.com", agent_id, Role.AGENT, "x", active, capacity)


def test_round_robin_rotates_after_the_last_served() -> None:
    team = [agent("cid"), agent("ann"), agent("bob")]
    online = {"ann", "bob", "cid"}
    assert pick(Strategy.ROUND_ROBIN, team, online, {}, "") == "ann"
    assert pick(Strategy.ROUND_ROBIN, team, online, {}, "ann") == "bob"
    assert pick(Strategy.ROUND_ROBIN, team, online, {}, "cid") == "ann", "wraps around"
    assert pick(Strategy.ROUND_ROBIN, team, {"ann", "cid"}, {}, "ann") == "cid", "skips offline"
    assert pick(Strategy.ROUND_ROBIN, team, online, {"bob": 5}, "ann") == "cid", "skips full"


def test_least_loaded_and_capacity() -> None:
    team = [agent("ann", 2), agent("bob", 4), agent("cid", 4, active=False)]
    online = {"ann", "bob", "cid"}
    assert pick(Strategy.LEAST_LOADED, team, online, {"ann": 1, "bob": 3}, "") == "ann"
    assert pick(Strategy.LEAST_LOADED, team, online, {"ann": 2, "bob": 3}, "") == "bob", \
        "ann is at capacity"
    assert pick(Strategy.LEAST_LOADED, team, online, {"ann": 1, "bob": 1}, "ann") == "bob", \
        "ties rotate"
    assert pick(Strategy.LEAST_LOADED, team, online, {"ann": 2, "bob": 4}, "") is None
    assert pick(Strategy.LEAST_LOADED, team, set(), {}, "") is None, "nobody online"
    assert pick(Strategy.OFF, team, online, {}, "") is None


def test_expected_wait_from_recent_handling_times() -> None:
    assert expected_wait(3, [], 1) == 900.0, "default 5 minutes per chat"
    assert expected_wait(3, [60, 120, 600], 3) == 120.0, "median 120 s, three parallel slots"
    assert expected_wait(1, [60], 0) == 60.0
    assert notice_text(3, 240).startswith("You're #3 in the queue, about 4 minutes.")
    assert "about 1 minute." in notice_text(1, 5)


async def test_presence_follows_connections(redis: Any) -> None:
    now = [1000.0]
    presence = Presence(redis, ttl_s=60, clock=lambda: now[0])
    await presence.beat("ann", "tab-1")
    await presence.beat("ann", "tab-2")
    await presence.beat("bob", "tab-3")
    assert await presence.online(["ann", "bob", "cid"]) == {"ann", "bob"}
    await presence.leave("ann", "tab-1")
    assert await presence.online(["ann"]) == {"ann"}, "still one tab open"
    await presence.leave("ann", "tab-2")
    assert await presence.online(["ann", "bob"]) == {"bob"}
    now[0] += 61  # bob's process died without closing the socket: the heartbeat expires
    assert await presence.online(["bob"]) == set()
    assert 0 < await redis.ttl(keys.online("bob")) <= 61


@pytest.fixture
async def team(stores: Dict[str, Any], redis: Any) -> Dict[str, Any]:
    """ann (capacity 1) and bob (capacity 2) online, cid (capacity 5) offline."""
    for member in (agent("ann", 1), agent("bob", 2), agent("cid", 5)):
        await stores["agents"].create(member)
    presence = Presence(redis)
    await presence.beat("ann", "c1")
    await presence.beat("bob", "c2")
    return {"agents": stores["agents"], "presence": presence}


def assigner(service: HandoffService, team: Dict[str, Any], redis: Any,
             strategy: Strategy = Strategy.LEAST_LOADED, notices: Any = None,
             name: str = "a1") -> Assigner:
    return Assigner(service, team["agents"], team["presence"], redis, strategy, notices, name=name)


async def test_least_loaded_fills_capacity_then_queues_fifo(service: HandoffService, redis: Any,
                                                            team: Dict[str, Any], sandbox: Any) -> None:
    graph = GraphClient.from_credentials(sandbox.access_token, sandbox.phone_number_id,
                                         base_url=sandbox.url, version=sandbox.api_version)
    notices = QueueNotices(service.tickets, Replies(Sender(graph, redis), redis), redis)
    wa_ids = [f"1555010000{i}" for i in range(5)]
    tickets = []
    for wa_id in wa_ids:  # the customers wrote (window open) and asked for a human
        sandbox.customer_sends(wa_id, {"type": "text", "text": {"body": "human please"}})
        await refresh_window(redis, sandbox.phone_number_id, wa_id, time.time())
        tickets.append(await service.request(wa_id, reason="asked"))
    try:
        worker = assigner(service, team, redis, notices=notices)
        sweep = await worker.sweep()
        assert [agent_id for _, agent_id in sweep.assigned] == ["ann", "bob", "bob"]
        assert [tid for tid, _ in sweep.assigned] == [t.id for t in tickets[:3]], "oldest first"
        assert sweep.waiting == [tickets[3].id, tickets[4].id] and sweep.told == 2
        for ticket, owner in zip(tickets, ["ann", "bob", "bob"]):
            stored = await service.get(ticket.id)
            assert stored.status is Status.ASSIGNED and stored.agent == owner
            assert stored.audit[-1].action == "assign" and stored.audit[-1].by == BY
            raw = await redis.hgetall(shared_keys.ownership(ticket.wa_id))
            assert Ownership.from_hash(raw) == Ownership(Owner.ASSIGNED, owner, ticket.id)
        assert sandbox.outbox(wa_ids[0]) == [], "an assigned customer gets no queue notice"
        # Capacity online = 1 + 2; no resolved chat yet: 5 minutes each -> 100 s per place.
        [first] = sandbox.outbox(wa_ids[3])
        [second] = sandbox.outbox(wa_ids[4])
        assert first["payload"]["text"]["body"].startswith("You're #1 in the queue, about 2 minutes.")
        assert second["payload"]["text"]["body"].startswith("You're #2 in the queue, about 3 minutes.")

        again = await worker.sweep()
        assert again.assigned == [] and again.told == 0, "told once per queue stint"
        await service.resolve(tickets[0].id, by="agent:ann")  # ann is free again
        freed = await worker.sweep()
        assert freed.assigned == [(tickets[3].id, "ann")] and freed.waiting == [tickets[4].id]
        assert len(sandbox.outbox(wa_ids[4])) == 1, "the still-waiting customer is not re-told"
        assert (await service.tickets.handling_times(utcnow() - timedelta(hours=1)))[0] >= 0
    finally:
        await graph.aclose()


async def test_round_robin_rotation_survives_sweeps(service: HandoffService, redis: Any,
                                                    team: Dict[str, Any]) -> None:
    await team["agents"].update("ann", capacity=5)
    await team["presence"].beat("cid", "c3")
    tickets = [await service.request(f"155502000{i}") for i in range(4)]
    worker = assigner(service, team, redis, Strategy.ROUND_ROBIN)
    first = await worker.sweep()
    assert [a for _, a in first.assigned] == ["ann", "bob", "cid", "ann"]
    more = [await service.request(f"155502100{i}") for i in range(2)]
    second = await worker.sweep()
    assert [a for _, a in second.assigned] == ["bob", "cid"], "bob (capacity 2) is then full"
    assert {t for t, _ in first.assigned + second.assigned} == {t.id for t in tickets + more}


async def test_nobody_online_everything_waits(service: HandoffService, redis: Any,
                                              team: Dict[str, Any]) -> None:
    for name, conn in (("ann", "c1"), ("bob", "c2")):
        await team["presence"].leave(name, conn)
    ticket = await service.request("15550300001")
    sweep = await assigner(service, team, redis).sweep()
    assert sweep.assigned == [] and sweep.waiting == [ticket.id]
    assert (await service.get(ticket.id)).status is Status.QUEUED


async def test_manual_claim_racing_the_assigner_has_one_owner(service: HandoffService, redis: Any,
                                                             team: Dict[str, Any]) -> None:
    for round_ in range(5):
        ticket = await service.request(f"1555040000{round_}")
        worker = assigner(service, team, redis, name=f"w{round_}")
        claim, sweep = await asyncio.gather(service.claim(ticket.id, "cid"), worker.sweep(),
                                            return_exceptions=True)
        stored = await service.get(ticket.id)
        assert stored.status is Status.ASSIGNED
        owners = {a.agent for a in stored.audit if a.to_status == "assigned"}
        assert len(owners) == 1, stored.audit
        raw = await redis.hgetall(shared_keys.ownership(ticket.wa_id))
        assert Ownership.from_hash(raw).agent == stored.agent
        await service.resolve(ticket.id, by="system")
        assert not isinstance(sweep, Exception), sweep


async def test_one_replica_sweeps_at_a_time(service: HandoffService, redis: Any,
                                            team: Dict[str, Any]) -> None:
    await service.request("15550500001")
    await redis.set(keys.AUTO_ASSIGN_LOCK, "other-replica", px=5000)
    assert (await assigner(service, team, redis).sweep()).skipped
    await redis.delete(keys.AUTO_ASSIGN_LOCK)
    assert len((await assigner(service, team, redis).sweep()).assigned) == 1
    assert not await redis.exists(keys.AUTO_ASSIGN_LOCK), "the lease is released"


async def test_auto_assignment_in_the_app(redis_url: str, mongo_url: str, mongo_db_name: str,
                                          sandbox: Any) -> None:
    """An agent with the console open gets the chat; when everyone is full the customer learns
    their place; an agent coming online takes the queue; closing the console ends presence."""
    settings = settings_for(redis_url, mongo_url, mongo_db_name, auto_assign="least_loaded",
                            queue_notice=True, assign_interval_seconds=0.3,
                            graph_base_url=sandbox.url, graph_version=sandbox.api_version,
                            access_token=sandbox.access_token,
                            phone_number_id=sandbox.phone_number_id, waba_id=sandbox.waba_id)
    async with running(settings) as app:
        base = f"http://127.0.0.1:{settings.port}"
        redis = app.ctx.handoff.redis
        admin, people = Client(base), {}
        await admin.login("admin@example.com", "admin-password")
        for name in ("alice", "bob"):
            created = await admin.post("/api/agents", {"id": name, "email": f"{name}@x.com",
                                                       "password": f"{name}-password"})
            assert created.status_code == 201
            people[name] = Client(base)
            await people[name].login(f"{name}@x.com", f"{name}-password")
        assert (await admin.http.patch("/api/agents/alice", json={"capacity": 1},
                                       headers={"X-CSRF-Token": admin.csrf})).status_code == 200
        denied = await people["bob"].http.patch("/api/agents/bob", json={"capacity": 9},
                                                headers={"X-CSRF-Token": people["bob"].csrf})
        assert denied.status_code == 403, "agents do not set their own capacity"
        ws_url = base.replace("http", "ws") + "/api/live"

        def headers(who: str) -> Dict[str, str]:
            return {"Cookie": f"parley_session={people[who].http.cookies['parley_session']}",
                    "Origin": base}

        async def ticket_of(wa_id: str) -> Dict[str, Any]:
            tickets = (await admin.get("/api/tickets?view=all")).json()["tickets"]
            return next((t for t in tickets if t["wa_id"] == wa_id), {})

        async def ask_for_human(wa_id: str) -> None:
            sandbox.customer_sends(wa_id, {"type": "text", "text": {"body": "a human please"}})
            await refresh_window(redis, sandbox.phone_number_id, wa_id, time.time())
            event = Event("handoff.requested", f"req-{wa_id}", {"wa_id": wa_id, "reason": "asked"})
            await redis.xadd(shared_keys.EVENTS_STREAM, event.to_fields())

        async with websockets.connect(ws_url, additional_headers=headers("alice")) as alice_ws:
            assert json.loads(await alice_ws.recv())["type"] == "hello"
            listing = (await admin.get("/api/agents")).json()["agents"]
            assert {a["id"]: a["online"] for a in listing} == {"admin": False, "alice": True,
                                                               "bob": False}
            await ask_for_human("15550600001")
            frames: List[Dict[str, Any]] = []

            async def assigned_frame() -> bool:
                frames.append(json.loads(await asyncio.wait_for(alice_ws.recv(), 10)))
                return any(f.get("type") == "ticket" and f["data"].get("agent") == "alice"
                           and f["data"]["status"] == "assigned" for f in frames)
            await eventually(assigned_frame, timeout=10)
            assert sandbox.outbox("15550600001") == []

            await ask_for_human("15550600002")  # alice is full, bob offline: it waits
            notice = await eventually(lambda: asyncio.sleep(0, sandbox.outbox("15550600002")))
            assert notice[0]["payload"]["text"]["body"].startswith("You're #1 in the queue, about")
            assert (await ticket_of("15550600002"))["status"] == "queued"

            async with websockets.connect(ws_url, additional_headers=headers("bob")) as bob_ws:
                await bob_ws.recv()

                async def bob_has_it() -> bool:
                    return (await ticket_of("15550600002")).get("agent") == "bob"
                await eventually(bob_has_it, timeout=10)
                listing = {a["id"]: a for a in (await admin.get("/api/agents")).json()["agents"]}
                assert listing["bob"]["online"] and listing["bob"]["open"] == 1
                assert listing["alice"]["capacity"] == 1 and listing["alice"]["open"] == 1

            async def bob_offline() -> bool:
                agents = (await admin.get("/api/agents")).json()["agents"]
                return not next(a for a in agents if a["id"] == "bob")["online"]
            await eventually(bob_offline, timeout=5)
        for client in (admin, *people.values()):
            await client.aclose()

"""Consumers: tickets from the bot's handoff.requested, the transcript writer (batched,
idempotent, surviving a MongoDB outage), and the live feed (inbox pushed to the owner only,
replay after a reconnect)."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List

import pytest
import redis.asyncio as aioredis
import websockets
from motor.motor_asyncio import AsyncIOMotorClient

from connectors import keys as shared_keys
from connectors.events import Event
from devstack import free_port, start_mongo
from handoff import keys
from handoff.consumers.group import GroupConsumer
from handoff.consumers.transcript import TranscriptWriter
from handoff.store import MongoTranscriptStore
from tests.handoff.server import Agent, running, settings_for

WA = "15550002222"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def requested(event_id: str, wa_id: str = WA, turns: Any = ()) -> Event:
    return Event("handoff.requested", event_id, {
        "wa_id": wa_id, "name": "Dana", "reason": "fallback",
        "context": {"last_intent": "nlu_fallback", "slots": {"order_id": "A-7"},
                    "turns": list(turns)}})


def received(wamid: str, text: str, wa_id: str = WA) -> Event:
    return Event("message.received", wamid, {"wamid": wamid, "wa_id": wa_id, "name": "Dana",
                                             "type": "text", "text": text,
                                             "timestamp": str(int(time.time()))})


@pytest.fixture
async def app_env(redis_url: str, mongo_url: str, mongo_db_name: str) -> Any:
    settings = settings_for(redis_url, mongo_url, mongo_db_name)
    async with running(settings) as app:
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        await admin.login("admin@example.com", "admin-password")
        agents = {"admin": admin}
        for name in ("alice", "bob"):
            await admin.post("/api/agents", {"id": name, "email": f"{name}@x.com",
                                             "password": f"{name}-password"})
            agents[name] = Agent(base)
            await agents[name].login(f"{name}@x.com", f"{name}-password")
        yield app, agents, base
        for agent in agents.values():
            await agent.aclose()


async def test_bot_request_creates_one_ticket_and_transcript(app_env: Any) -> None:
    app, agents, _ = app_env
    redis = app.ctx.handoff.redis
    turns = [{"by": "user", "text": "where is my order"}, {"by": "bot", "text": "Which order?"}]
    event = requested("req-1", turns=turns)
    await redis.xadd(shared_keys.EVENTS_STREAM, event.to_fields())
    await redis.xadd(shared_keys.EVENTS_STREAM, event.to_fields())  # delivered twice
    await redis.xadd(shared_keys.EVENTS_STREAM, received("wamid.1", "hello?").to_fields())
    await redis.xadd(shared_keys.EVENTS_STREAM, received("wamid.x", "not tracked", "999").to_fields())

    async def queue() -> List[Dict[str, Any]]:
        return (await agents["alice"].get("/api/tickets?view=queue")).json()["tickets"]
    tickets = await eventually(queue)
    assert len(tickets) == 1 and tickets[0]["reason"] == "fallback" and tickets[0]["name"] == "Dana"
    tid = tickets[0]["id"]
    owner = await redis.hgetall(shared_keys.ownership(WA))
    assert owner[b"owner"] == b"queued" and owner[b"ticket_id"] == tid.encode()

    async def transcript() -> List[Dict[str, Any]]:
        lines = (await agents["alice"].get(f"/api/tickets/{tid}")).json()["transcript"]
        return lines if any(line["id"] == "wamid.1" for line in lines) else []
    lines = await eventually(transcript)
    texts = [(line["by"], line["text"]) for line in lines]
    assert ("customer", "where is my order") in texts and ("bot", "Which order?") in texts
    assert ("customer", "hello?") in texts and ("system", "Handoff requested (fallback)") in texts
    assert texts.index(("customer", "where is my order")) < texts.index(("bot", "Which order?"))
    detail = (await agents["alice"].get(f"/api/tickets/{tid}")).json()
    assert detail["ticket"]["context"]["slots"] == {"order_id": "A-7"}
    assert not await redis.exists(keys.tracked("999"))
    # Acknowledged only after the effect: nothing left pending.
    for group in (keys.TICKETS_GROUP, keys.TRANSCRIPT_GROUP):
        await eventually(lambda: _no_pending(redis, shared_keys.EVENTS_STREAM, group))


async def _no_pending(redis: Any, stream: str, group: str) -> bool:
    return (await redis.xpending(stream, group))["pending"] == 0


async def test_live_inbox_reaches_the_owner_only_and_replays_after_reconnect(app_env: Any) -> None:
    app, agents, base = app_env
    redis = app.ctx.handoff.redis
    alice, bob = agents["alice"], agents["bob"]
    tid = (await agents["admin"].post("/api/tickets", {"wa_id": WA, "name": "Dana"})).json()["ticket"]["id"]
    assert (await alice.post(f"/api/tickets/{tid}/claim")).status_code == 200
    ws_url = base.replace("http", "ws") + "/api/live"

    def cookie(agent: Agent) -> Dict[str, str]:
        return {"Cookie": f"parley_session={agent.http.cookies['parley_session']}",
                "Origin": base}

    async with websockets.connect(ws_url, additional_headers=cookie(alice)) as a_ws, \
            websockets.connect(ws_url, additional_headers=cookie(bob)) as b_ws:
        hello = json.loads(await a_ws.recv())
        assert hello["type"] == "hello"
        json.loads(await b_ws.recv())
        started = time.monotonic()
        await redis.xadd(shared_keys.HANDOFF_INBOX_STREAM,
                         received("wamid.live", "<img src=x onerror=alert(1)>").to_fields())
        frame = json.loads(await asyncio.wait_for(a_ws.recv(), 5))
        assert time.monotonic() - started < 1.0
        assert frame["type"] == "message" and frame["data"]["line"]["text"] == "<img src=x onerror=alert(1)>"
        last_id = frame["id"]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(b_ws.recv(), 0.5)
    # Disconnected: two more messages arrive; the reconnect with last_id replays both, once.
    for n in (1, 2):
        await redis.xadd(shared_keys.HANDOFF_INBOX_STREAM, received(f"wamid.m{n}", f"m{n}").to_fields())
    await eventually(lambda: _live_has(redis, "wamid.m2"))
    async with websockets.connect(f"{ws_url}?last_id={last_id}", additional_headers=cookie(alice)) as ws:
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
    assert [f["data"]["line"]["text"] for f in frames[:2]] == ["m1", "m2"]
    assert frames[2]["type"] == "hello"
    async with websockets.connect(ws_url, additional_headers={"Origin": "http://evil.example",
                                                              **{"Cookie": cookie(alice)["Cookie"]}}) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def _live_has(redis: Any, event_id: str) -> bool:
    return any(Event.from_fields(f).id == event_id for _, f in await redis.xrange(keys.LIVE_STREAM))


async def test_transcript_write_behind_survives_a_mongo_outage(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "mongo"
    server = start_mongo(port, data_dir)
    client: Any = AsyncIOMotorClient(f"mongodb://127.0.0.1:{port}/", tz_aware=True,
                                     serverSelectionTimeoutMS=500, connectTimeoutMS=500)
    redis = aioredis.from_url(redis_url)
    store = MongoTranscriptStore(client["outage"])
    consumer = GroupConsumer(redis, [shared_keys.EVENTS_STREAM], keys.TRANSCRIPT_GROUP, "t",
                             TranscriptWriter(redis, store), block_ms=100, max_backoff_s=0.5)
    task = asyncio.get_running_loop().create_task(consumer.run())
    try:
        await redis.xadd(shared_keys.EVENTS_STREAM, requested("req-o").to_fields())
        await eventually(lambda: _lines(store, 1))
        server.terminate()
        server.wait(timeout=30)
        for n in range(5):
            await redis.xadd(shared_keys.EVENTS_STREAM, received(f"wamid.o{n}", f"during outage {n}").to_fields())
        await asyncio.sleep(2.0)  # the writer fails, backs off, retries: nothing is acknowledged
        pending = await redis.xpending(shared_keys.EVENTS_STREAM, keys.TRANSCRIPT_GROUP)
        group = next(g for g in await redis.xinfo_groups(shared_keys.EVENTS_STREAM)
                     if g["name"] == keys.TRANSCRIPT_GROUP.encode())
        assert pending["pending"] >= 1 and pending["pending"] + group["lag"] == 5
        server = start_mongo(port, data_dir)
        lines = await eventually(lambda: _lines(store, 6), timeout=60)
        assert [line.text for line in lines[1:]] == [f"during outage {n}" for n in range(5)]
        await eventually(lambda: _no_pending(redis, shared_keys.EVENTS_STREAM, keys.TRANSCRIPT_GROUP))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        client.close()
        await redis.aclose()
        server.terminate()
        server.wait(timeout=30)


async def _lines(store: MongoTranscriptStore, n: int) -> Any:
    try:
        lines = await store.history(WA)
    except Exception:
        return None
    return lines if len(lines) >= n else None

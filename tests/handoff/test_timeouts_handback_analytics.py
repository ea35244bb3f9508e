"""Queue time-out (customer told, follow-up list), the Rasa trigger_intent hand-back, the
analytics endpoint (with the bot deflection rate), and settings."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from connectors import keys as shared_keys
from connectors.client import GraphClient
from connectors.sender import Sender
from connectors.window import refresh_window
from handoff import keys
from handoff.handback import RasaApiResumer
from handoff.replies import Replies
from handoff.service import HandoffService
from handoff.settings import Settings, SettingsError
from handoff.states import Status
from handoff.timeouts import NOTICE, QueueTimeouts
from tests.handoff.server import Agent, running, settings_for


async def test_queue_timeout_tells_the_customer(service: HandoffService, redis: Any, sandbox: Any) -> None:
    graph = GraphClient.from_credentials(sandbox.access_token, sandbox.phone_number_id,
                                         base_url=sandbox.url, version=sandbox.api_version)
    replies = Replies(Sender(graph, redis), redis)
    now = datetime.now(timezone.utc)
    old = await service.request("15550005555", "Gus")
    fresh = await service.request("15550006666", "Hal")
    sandbox.customer_sends("15550005555", {"type": "text", "text": {"body": "anyone?"}})
    await refresh_window(redis, sandbox.phone_number_id, "15550005555", time.time())
    sweeper = QueueTimeouts(service, replies, minutes=10, clock=lambda: now + timedelta(minutes=11))
    try:
        assert await sweeper.sweep() == 2
        assert (await service.get(old.id)).status is Status.TIMED_OUT
        assert not await redis.exists(shared_keys.ownership("15550005555"))
        [notice] = sandbox.outbox("15550005555")
        assert notice["payload"]["text"]["body"] == NOTICE
        assert sandbox.outbox("15550006666") == [], "no window: nothing is sent (logged)"
        early = QueueTimeouts(service, replies, minutes=10, clock=lambda: now)
        await service.claim(fresh.id, "ann")  # a follow-up claim works after a time-out
        assert await early.sweep() == 0
    finally:
        await graph.aclose()


async def test_rasa_trigger_intent_hand_back(webhook_receiver: Any) -> None:
    async with httpx.AsyncClient() as http:
        result = await RasaApiResumer(http, webhook_receiver.url, "tok").resume("123", "Ann", "t1")
    assert result == {"mode": "rasa_api", "resumed": True}
    [request] = webhook_receiver.wait_for(1)
    assert "/conversations/123/trigger_intent?" in request.path
    assert "output_channel=latest" in request.path and "token=tok" in request.path
    assert request.json() == {"name": "handoff_ended"}
    async with httpx.AsyncClient() as http:
        down = await RasaApiResumer(http, "http://127.0.0.1:9").resume("123", "Ann", "t1")
    assert down["resumed"] is False and down["error"]


async def test_analytics_endpoint(redis_url: str, mongo_url: str, mongo_db_name: str) -> None:
    settings = settings_for(redis_url, mongo_url, mongo_db_name)
    async with running(settings) as app:
        admin = Agent(f"http://127.0.0.1:{settings.port}")
        await admin.login("admin@example.com", "admin-password")
        redis = app.ctx.handoff.redis
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        await redis.pfadd(keys.conversations(day), *[f"1555000{i:04d}" for i in range(10)])
        for i in range(2):
            tid = (await admin.post("/api/tickets", {"wa_id": f"1555000{i:04d}", "reason": "asked"})).json()["ticket"]["id"]
            await admin.post(f"/api/tickets/{tid}/claim")
            await admin.post(f"/api/tickets/{tid}/resolve")
        report = (await admin.get("/api/analytics?days=7")).json()
        today = next(d for d in report["days"] if d["day"] == day)
        assert today["requested"] == 2 and today["resolved"] == 2 and today["conversations"] == 10
        assert today["deflection_rate"] == 0.8 and report["totals"]["deflection_rate"] == 0.8
        assert report["agents"][0]["agent"] == "admin" and report["agents"][0]["resolved"] == 2
        assert report["reasons"] == [{"reason": "asked", "count": 2}]
        await admin.aclose()


def test_settings_from_env() -> None:
    with pytest.raises(SettingsError, match="HANDOFF_SECRET_KEY"):
        Settings.from_env({})
    with pytest.raises(SettingsError, match="HANDOFF_BOT_RESUME"):
        Settings.from_env({"HANDOFF_SECRET_KEY": "x" * 20, "HANDOFF_BOT_RESUME": "smoke"})
    s = Settings.from_env({"HANDOFF_SECRET_KEY": "x" * 20, "WHATSAPP_WABA_ID": "9",
                           "HANDOFF_QUEUE_TIMEOUT_MINUTES": "5", "HANDOFF_AUTO_ASSIGN": "yes"})
    assert s.port == 8788 and s.waba_id == "9" and s.queue_timeout_minutes == 5
    assert s.auto_assign == "least_loaded" and s.queue_notice, "a plain flag: least loaded"
    base = {"HANDOFF_SECRET_KEY": "x" * 20}
    assert Settings.from_env(base).auto_assign == "off" and not Settings.from_env(base).queue_notice
    rr = Settings.from_env({**base, "HANDOFF_AUTO_ASSIGN": "round_robin",
                            "HANDOFF_QUEUE_NOTICE": "off"})
    assert rr.auto_assign == "round_robin" and not rr.queue_notice
    assert Settings.from_env({**base, "HANDOFF_QUEUE_NOTICE": "on"}).queue_notice
    with pytest.raises(SettingsError, match="HANDOFF_AUTO_ASSIGN"):
        Settings.from_env({**base, "HANDOFF_AUTO_ASSIGN": "random"})

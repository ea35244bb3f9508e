"""Agent replies through the shared Sender against the sandbox: free text inside the window,
a refusal shown to the agent outside it, approved templates from the Graph template API; and
the hand-back through the inbound stream."""
from __future__ import annotations

import json
import time
from typing import Any, Dict

import pytest

from connectors import keys as shared_keys
from connectors.window import refresh_window
from tests.handoff.server import Agent, running, settings_for

WA = "15550003333"


@pytest.fixture
async def env(redis_url: str, mongo_url: str, mongo_db_name: str, sandbox: Any) -> Any:
    settings = settings_for(redis_url, mongo_url, mongo_db_name, graph_base_url=sandbox.url,
                            graph_version=sandbox.api_version, access_token=sandbox.access_token,
                            phone_number_id=sandbox.phone_number_id, waba_id=sandbox.waba_id,
                            bot_resume="inbound_stream")
    async with running(settings) as app:
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        await admin.login("admin@example.com", "admin-password")
        await admin.post("/api/agents", {"id": "alice", "email": "alice@x.com", "password": "alice-password"})
        alice = Agent(base)
        await alice.login("alice@x.com", "alice-password")
        tid = (await admin.post("/api/tickets", {"wa_id": WA, "name": "Eve"})).json()["ticket"]["id"]
        assert (await alice.post(f"/api/tickets/{tid}/claim")).status_code == 200
        yield {"app": app, "alice": alice, "tid": tid, "sandbox": sandbox}
        await admin.aclose()
        await alice.aclose()


async def open_window(env: Dict[str, Any]) -> None:
    """What the connector does for an inbound message: the sandbox's and Parley's window."""
    env["sandbox"].customer_sends(WA, {"type": "text", "text": {"body": "help"}}, name="Eve")
    await refresh_window(env["app"].ctx.handoff.redis, env["sandbox"].phone_number_id, WA, time.time())


async def test_free_text_inside_the_window_reaches_the_sandbox(env: Dict[str, Any]) -> None:
    await open_window(env)
    alice, tid = env["alice"], env["tid"]
    detail = (await alice.get(f"/api/tickets/{tid}")).json()
    assert detail["window"]["open"] and detail["window"]["seconds_left"] > 86000
    sent = await alice.post(f"/api/tickets/{tid}/reply", {"text": "Hi Eve, Alice here."})
    assert sent.status_code == 200, sent.text
    outbox = env["sandbox"].outbox(WA)
    assert [(m["type"], m["payload"]["text"]["body"]) for m in outbox] == [("text", "Hi Eve, Alice here.")]
    assert outbox[0]["wamid"] == sent.json()["wamid"]
    ticket = (await alice.get(f"/api/tickets/{tid}")).json()["ticket"]
    assert ticket["first_reply_at"] is not None


async def test_outside_the_window_free_text_is_refused_and_a_template_goes_out(env: Dict[str, Any]) -> None:
    alice, tid = env["alice"], env["tid"]
    assert not (await alice.get(f"/api/tickets/{tid}")).json()["window"]["open"]
    refused = await alice.post(f"/api/tickets/{tid}/reply", {"text": "are you there?"})
    assert refused.status_code == 422
    assert "window is closed" in refused.json()["message"] and refused.json()["kind"] == "WindowClosed"
    assert env["sandbox"].outbox(WA) == []

    templates = (await alice.get("/api/templates")).json()["templates"]
    order = next(t for t in templates if t["name"] == "order_update")
    assert order["variables"] == ["1", "2", "3"] and not order["named"]
    sent = await alice.post(f"/api/tickets/{tid}/reply", {"template": {
        "name": "order_update", "language": order["language"], "params": ["Eve", "A-7", "shipped"]}})
    assert sent.status_code == 200, sent.text
    [message] = env["sandbox"].outbox(WA)
    assert message["type"] == "template" and message["payload"]["template"]["name"] == "order_update"

    unknown = await alice.post(f"/api/tickets/{tid}/reply", {"template": {"name": "nope", "language": "en"}})
    assert unknown.status_code == 422 and "No approved template" in unknown.json()["message"]
    wrong = await alice.post(f"/api/tickets/{tid}/reply", {"template": {
        "name": "order_update", "language": order["language"], "params": ["only one"]}})
    assert wrong.status_code in (422, 502) and wrong.json()["message"]


async def test_resolve_hands_back_through_the_inbound_stream(env: Dict[str, Any]) -> None:
    await open_window(env)
    redis = env["app"].ctx.handoff.redis
    window_before = await redis.get(shared_keys.window(env["sandbox"].phone_number_id, WA))
    resolved = await env["alice"].post(f"/api/tickets/{env['tid']}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["bot"] == {"mode": "inbound_stream", "resumed": True}
    assert not await redis.exists(shared_keys.ownership(WA))
    [(_, fields)] = await redis.xrange(shared_keys.INBOUND_STREAM)
    message = json.loads(fields[b"body"])["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["interactive"]["button_reply"]["id"] == "/handoff_ended"
    assert message["timestamp"] == window_before.decode(), "the marker never extends the window"

"""HTTP: authentication, roles and ticket ownership on every endpoint, CSRF, login rate limit,
password hashing, the concurrent claim (one 200, one 409), and bearer tokens."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict

import httpx
import pytest

from handoff.store import MongoAgentStore
from tests.handoff.server import Agent, running, settings_for


@pytest.fixture
async def env(redis_url: str, mongo_url: str, mongo_db_name: str) -> AsyncIterator[Dict[str, Any]]:
    settings = settings_for(redis_url, mongo_url, mongo_db_name)
    async with running(settings) as app:
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        assert (await admin.login("admin@example.com", "admin-password")).status_code == 200
        people: Dict[str, Any] = {"admin": admin, "app": app, "base": base}
        for name, role in (("alice", "agent"), ("bob", "agent"), ("sue", "supervisor")):
            created = await admin.post("/api/agents", {"id": name, "email": f"{name}@example.com",
                                                       "password": f"{name}-password", "role": role})
            assert created.status_code == 201, created.text
            people[name] = Agent(base)
            assert (await people[name].login(f"{name}@example.com", f"{name}-password")).status_code == 200
        yield people
        for key in ("admin", "alice", "bob", "sue"):
            await people[key].aclose()


async def new_ticket(env: Dict[str, Any], wa_id: str = "15550001111") -> str:
    response = await env["admin"].post("/api/tickets", {"wa_id": wa_id, "name": "Carol",
                                                        "reason": "asked"})
    assert response.status_code == 201, response.text
    return response.json()["ticket"]["id"]


async def test_concurrent_claim_over_http_one_200_one_409(env: Dict[str, Any]) -> None:
    tid = await new_ticket(env)
    a, b = await asyncio.gather(env["alice"].post(f"/api/tickets/{tid}/claim"),
                                env["bob"].post(f"/api/tickets/{tid}/claim"))
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    loser = a if a.status_code == 409 else b
    assert loser.json()["error"] in ("conflict", "invalid_transition")
    assert loser.json()["message"]


async def test_roles_and_ownership_on_every_endpoint(env: Dict[str, Any]) -> None:
    alice, bob, sue = env["alice"], env["bob"], env["sue"]
    tid = await new_ticket(env)
    assert (await bob.get(f"/api/tickets/{tid}")).status_code == 200, "agents see the queue"
    assert (await alice.post(f"/api/tickets/{tid}/claim")).status_code == 200
    # Bob may not see or touch Alice's chat.
    assert (await bob.get(f"/api/tickets/{tid}")).status_code == 403
    assert (await bob.post(f"/api/tickets/{tid}/claim")).status_code == 409
    for action, body in (("transfer", {"agent": "bob"}), ("requeue", {}),
                         ("resolve", {}), ("reply", {"text": "hi"}), ("assign", {"agent": "bob"})):
        response = await bob.post(f"/api/tickets/{tid}/{action}", body)
        assert response.status_code == 403, (action, response.text)
    assert tid not in [t["id"] for t in (await bob.get("/api/tickets?view=mine")).json()["tickets"]]
    assert (await bob.get("/api/tickets?view=all")).json()["tickets"] == []
    # Role-gated endpoints.
    assert (await bob.get("/api/analytics")).status_code == 403
    assert (await bob.post("/api/agents", {"id": "x", "email": "x@e.com", "password": "12345678"})).status_code == 403
    assert (await bob.post("/api/tokens", {"agent": "alice"})).status_code == 403
    assert (await sue.post("/api/agents", {"id": "x", "email": "x@e.com", "password": "12345678"})).status_code == 403
    # The supervisor sees everything and may move it.
    assert (await sue.get(f"/api/tickets/{tid}")).status_code == 200
    assert len((await sue.get("/api/tickets?view=all")).json()["tickets"]) == 1
    assert (await sue.get("/api/analytics")).status_code == 200
    moved = await sue.post(f"/api/tickets/{tid}/transfer", {"agent": "bob"})
    assert moved.status_code == 200 and moved.json()["ticket"]["agent"] == "bob"
    assert (await alice.get(f"/api/tickets/{tid}")).status_code == 403
    assert (await bob.get(f"/api/tickets/{tid}")).status_code == 200
    assert (await sue.post(f"/api/tickets/{tid}/reply", {"text": "hi"})).status_code == 403, \
        "only the owner replies"
    assert (await bob.post(f"/api/tickets/{tid}/transfer", {"agent": "nobody"})).status_code == 404
    assert (await bob.post(f"/api/tickets/{tid}/resolve")).status_code == 200
    assert (await bob.post(f"/api/tickets/{tid}/resolve")).status_code == 409
    assert (await bob.get("/api/tickets/nope")).status_code == 404


async def test_unauthenticated_requests_get_401(env: Dict[str, Any]) -> None:
    tid = await new_ticket(env)
    async with httpx.AsyncClient(base_url=env["base"]) as anonymous:
        for path in ("/api/tickets", f"/api/tickets/{tid}", "/api/me", "/api/agents",
                     "/api/templates", "/api/canned", "/api/analytics"):
            assert (await anonymous.get(path)).status_code == 401, path
        for path in (f"/api/tickets/{tid}/claim", f"/api/tickets/{tid}/resolve",
                     f"/api/tickets/{tid}/reply", "/api/tickets", "/api/tokens", "/api/logout"):
            assert (await anonymous.post(path, json={})).status_code == 401, path
        bad = await anonymous.get("/api/tickets", headers={"Authorization": "Bearer pht_nope"})
        assert bad.status_code == 401


async def test_csrf_is_required_for_cookie_sessions(env: Dict[str, Any]) -> None:
    alice = env["alice"]
    tid = await new_ticket(env)
    missing = await alice.post(f"/api/tickets/{tid}/claim", csrf="")
    assert missing.status_code == 403 and missing.json()["error"] == "csrf"
    wrong = await alice.post(f"/api/tickets/{tid}/claim", csrf="not-the-token")
    assert wrong.status_code == 403
    cross = await alice.post(f"/api/tickets/{tid}/claim", headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    login_cross = await alice.http.post("/api/login", headers={"Origin": "http://evil.example"},
                                        json={"email": "alice@example.com", "password": "alice-password"})
    assert login_cross.status_code == 403
    assert (await alice.get(f"/api/tickets/{tid}")).json()["ticket"]["status"] == "queued"
    assert (await alice.post(f"/api/tickets/{tid}/claim")).status_code == 200
    cookies = alice.http.cookies
    assert cookies.get("parley_session") and cookies.get("parley_csrf")


async def test_session_cookie_flags_and_logout(env: Dict[str, Any]) -> None:
    fresh = Agent(env["base"])
    response = await fresh.login("alice@example.com", "alice-password")
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("parley_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    assert (await fresh.get("/api/me")).json()["agent"]["id"] == "alice"
    assert (await fresh.post("/api/logout")).status_code == 200
    fresh.http.cookies.clear()
    assert (await fresh.get("/api/me")).status_code == 401
    await fresh.aclose()


async def test_login_rate_limit(env: Dict[str, Any]) -> None:
    probe = Agent(env["base"])
    for _ in range(5):
        assert (await probe.login("bob@example.com", "wrong-password")).status_code == 401
    blocked = await probe.login("bob@example.com", "bob-password")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert (await probe.login("alice@example.com", "alice-password")).status_code == 200, \
        "the limit is per username (and IP)"
    assert (await probe.login("nobody@example.com", "whatever-pass")).status_code == 401
    await probe.aclose()


async def test_passwords_are_argon2_hashed(env: Dict[str, Any], mongo_url: str) -> None:
    db = env["app"].ctx.handoff.mongo[env["app"].ctx.settings.mongodb_db]
    agent = await MongoAgentStore(db).get("alice")
    assert agent.password_hash.startswith("$argon2id$")
    assert "alice-password" not in agent.password_hash
    raw = await db["handoff_agents"].find_one({"_id": "alice"})
    assert "password" not in raw


async def test_bearer_tokens_for_integrators(env: Dict[str, Any]) -> None:
    issued = await env["alice"].post("/api/tokens", {"label": "crm"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    tid = await new_ticket(env)
    async with httpx.AsyncClient(base_url=env["base"],
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        assert any(t["id"] == tid for t in (await api.get("/api/tickets")).json()["tickets"])
        claimed = await api.post(f"/api/tickets/{tid}/claim")  # no CSRF needed for tokens
        assert claimed.status_code == 200 and claimed.json()["ticket"]["agent"] == "alice"
        detail = (await api.get(f"/api/tickets/{tid}")).json()
        assert detail["ticket"]["audit"][-1]["by"] == "agent:alice"
        resolved = await api.post(f"/api/tickets/{tid}/resolve")
        assert resolved.status_code == 200
        assert resolved.json()["ticket"]["audit"][-1]["by"] == "api:alice"
    db = env["app"].ctx.handoff.mongo[env["app"].ctx.settings.mongodb_db]
    stored = await db["handoff_tokens"].find_one({})
    assert stored["_id"] != token and token not in str(stored)


async def test_a_marketer_may_log_in_but_not_use_the_agent_queue(env: Dict[str, Any]) -> None:
    admin, base = env["admin"], env["base"]
    created = await admin.post("/api/agents", {"id": "mia", "email": "mia@example.com",
                                               "password": "mia-password", "role": "marketer"})
    assert created.status_code == 201, created.text
    mia = Agent(base)
    try:
        assert (await mia.login("mia@example.com", "mia-password")).status_code == 200
        assert (await mia.get("/api/me")).json()["agent"]["role"] == "marketer"
        assert (await mia.post("/api/tokens", {"label": "broadcasts"})).status_code == 201
        tid = await new_ticket(env)
        assert (await mia.get("/api/tickets?view=queue")).status_code == 403
        assert (await mia.post(f"/api/tickets/{tid}/claim")).status_code == 403
        assert (await admin.post(f"/api/tickets/{tid}/assign", {"agent": "mia"})).status_code == 404
        assert (await mia.post("/api/logout")).status_code == 200
    finally:
        await mia.aclose()

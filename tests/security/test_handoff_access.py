"""Authorization on EVERY route of the handoff app, enumerated from its router: a new route
without an entry in POLICY fails here until someone decides who may call it.

For each protected route: no credentials, a forged session cookie and a forged bearer token
-> 401; agent Alice (console session with CSRF token, and her own API token) against Bob's
ticket or an admin/supervisor endpoint -> 403; a cookie session without the CSRF token on an
unsafe method -> 403. Alice's token never acts as Bob."""
from __future__ import annotations

import json
from typing import Any, AsyncIterator, Dict, Optional, Tuple

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

import websockets  # noqa: E402

from tests.handoff.server import Agent, running, settings_for  # noqa: E402

#: (method, route path) -> who may call it. "public": anyone; "logged_in": any agent;
#: "view": agents who see the ticket (queue or their own); "owner_or_sup": the ticket's agent or
#: a supervisor/admin; "owner": the ticket's agent; "sup": supervisor/admin; "admin": admin;
#: "self_or_admin": for oneself, or an admin for anyone; "claim": queue tickets (someone else's -> 409).
POLICY: Dict[Tuple[str, str], str] = {
    ("GET", ""): "public", ("GET", "login"): "public", ("GET", "analytics"): "public",
    ("GET", "logout"): "public", ("GET", "healthz"): "public", ("GET", "static/<__file_uri__:path>"): "public",
    ("GET", "readyz"): "public", ("GET", "metrics"): "public",
    ("POST", "api/login"): "public",
    ("POST", "api/logout"): "logged_in", ("GET", "api/me"): "logged_in", ("GET", "api/agents"): "logged_in",
    ("GET", "api/canned"): "logged_in", ("GET", "api/templates"): "logged_in", ("GET", "api/tickets"): "logged_in",
    ("POST", "api/tickets"): "logged_in", ("GET", "api/live"): "websocket",
    ("GET", "api/tickets/<ticket_id:str>"): "view",
    ("POST", "api/tickets/<ticket_id:str>/claim"): "claim",
    ("POST", "api/tickets/<ticket_id:str>/assign"): "sup",
    ("POST", "api/tickets/<ticket_id:str>/transfer"): "owner_or_sup",
    ("POST", "api/tickets/<ticket_id:str>/requeue"): "owner_or_sup",
    ("POST", "api/tickets/<ticket_id:str>/resolve"): "owner_or_sup",
    ("POST", "api/tickets/<ticket_id:str>/reply"): "owner",
    ("GET", "api/analytics"): "sup", ("POST", "api/agents"): "admin",
    ("PATCH", "api/agents/<agent_id:str>"): "sup", ("POST", "api/tokens"): "self_or_admin",
}
BODIES: Dict[str, Dict[str, Any]] = {
    "assign": {"agent": "alice"}, "transfer": {"agent": "alice"}, "reply": {"text": "hello"},
    "api/agents": {"id": "mallory", "email": "m@example.com", "password": "mallory-password", "role": "admin"},
    "api/agents/<agent_id:str>": {"capacity": 50}, "api/tokens": {"agent": "bob", "label": "steal"},
    "api/tickets": {"wa_id": "15550009999", "name": "x"},
}


def routes(app: Any) -> Dict[Tuple[str, str], Any]:
    found = {}
    for route in app.router.routes:
        for method in route.methods - {"HEAD", "OPTIONS"}:
            found[(method, route.path)] = route
    return found


def concrete(path: str, ticket: str) -> str:
    return "/" + path.replace("<ticket_id:str>", ticket).replace("<agent_id:str>", "bob") \
        .replace("<__file_uri__:path>", "console.js")


def body_for(path: str) -> Dict[str, Any]:
    return BODIES.get(path) or BODIES.get(path.rsplit("/", 1)[-1], {})


@pytest.fixture
async def env(redis_url: str, mongo_url: str, mongo_db_name: str) -> AsyncIterator[Dict[str, Any]]:
    settings = settings_for(redis_url, mongo_url, mongo_db_name)
    async with running(settings) as app:
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        assert (await admin.login("admin@example.com", "admin-password")).status_code == 200
        people: Dict[str, Any] = {"admin": admin, "app": app, "base": base, "port": settings.port}
        for name, role in (("alice", "agent"), ("bob", "agent")):
            created = await admin.post("/api/agents", {"id": name, "email": f"{name}@example.com",
                                                       "password": f"{name}-password", "role": role})
            assert created.status_code == 201, created.text
            people[name] = Agent(base)
            assert (await people[name].login(f"{name}@example.com", f"{name}-password")).status_code == 200
        ticket = (await admin.post("/api/tickets", {"wa_id": "15550001111", "name": "Carol"})).json()["ticket"]["id"]
        assert (await admin.post(f"/api/tickets/{ticket}/assign", {"agent": "bob"})).status_code == 200
        people["ticket"] = ticket
        token = await people["alice"].post("/api/tokens", {"label": "alice-cli"})
        assert token.status_code == 201
        people["alice_token"] = token.json()["token"]
        yield people
        for key in ("admin", "alice", "bob"):
            await people[key].aclose()
        client = _CLIENTS.pop(base, None)
        if client is not None:
            await client.aclose()


async def call(base: str, method: str, path: str, body: Optional[Dict[str, Any]] = None,
               headers: Optional[Dict[str, str]] = None, cookies: Optional[Dict[str, str]] = None) -> httpx.Response:
    headers = dict(headers or {})
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    client = _CLIENTS.get(base)
    if client is None:
        client = _CLIENTS[base] = httpx.AsyncClient(base_url=base, timeout=15, verify=False)
    client.cookies.clear()
    return await client.request(method, path, headers=headers,
                                content=json.dumps(body or {}) if method != "GET" else None)


_CLIENTS: Dict[str, httpx.AsyncClient] = {}


def test_every_route_has_a_policy(env: Dict[str, Any]) -> None:
    found = routes(env["app"])
    missing = sorted(set(found) - set(POLICY))
    assert not missing, f"routes without an access decision in POLICY: {missing}"
    stale = sorted(set(POLICY) - set(found))
    assert not stale, f"POLICY names routes that no longer exist: {stale}"


async def test_unauthenticated_and_forged_credentials_get_401(env: Dict[str, Any]) -> None:
    base, ticket = env["base"], env["ticket"]
    checked = 0
    for (method, path), policy in POLICY.items():
        if policy in ("public", "websocket"):
            continue
        url = concrete(path, ticket)
        for headers, cookies in (({}, None), ({}, {"parley_session": "forged-session-id"}),
                                 ({"Authorization": "Bearer pht_forged"}, None),
                                 ({"Authorization": "Bearer  x"}, None), ({"Authorization": "Basic YWRtaW46eA=="}, None)):
            response = await call(base, method, url, body_for(path), headers, cookies)
            assert response.status_code == 401, (method, url, headers, cookies, response.text)
            assert "error" in response.json()
            checked += 1
    assert checked >= 5 * 18


async def test_agent_cannot_touch_another_agents_ticket_or_privileged_endpoints(env: Dict[str, Any]) -> None:
    base, ticket, alice = env["base"], env["ticket"], env["alice"]
    as_session = {"X-CSRF-Token": alice.csrf}
    session_cookies = dict(alice.http.cookies)
    as_token = {"Authorization": f"Bearer {env['alice_token']}"}
    denied = {"view": 403, "claim": 409, "sup": 403, "owner_or_sup": 403, "owner": 403, "admin": 403,
              "self_or_admin": 403}
    checked = 0
    for (method, path), policy in POLICY.items():
        if policy not in denied:
            continue
        url = concrete(path, ticket)
        for headers, cookies in ((as_session, session_cookies), (as_token, None)):
            response = await call(base, method, url, body_for(path), headers, cookies)
            assert response.status_code == denied[policy], (method, url, headers, response.text)
            checked += 1
    assert checked == 2 * sum(1 for p in POLICY.values() if p in denied)
    # Nothing moved: Bob still owns the ticket, no agent "mallory", Bob's capacity unchanged.
    detail = (await env["admin"].get(f"/api/tickets/{ticket}")).json()["ticket"]
    assert detail["agent"] == "bob" and detail["status"] == "assigned"
    agents = {a["id"]: a for a in (await env["admin"].get("/api/agents")).json()["agents"]}
    assert "mallory" not in agents and agents["bob"]["capacity"] != 50
    # Alice's session and token still work for what she may do (the 403s above are not vacuous).
    assert (await call(base, "GET", "/api/me", headers=as_token)).json()["agent"]["id"] == "alice"
    assert (await call(base, "GET", "/api/tickets?view=all", headers=as_token)).json()["tickets"] == []


async def test_cookie_session_without_csrf_token_is_refused(env: Dict[str, Any]) -> None:
    base, ticket = env["base"], env["ticket"]
    bob_cookies = dict(env["bob"].http.cookies)
    for (method, path), policy in POLICY.items():
        if method == "GET" or policy in ("public", "websocket"):
            continue
        url = concrete(path, ticket)
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": env["alice"].csrf}):
            response = await call(base, method, url, body_for(path), headers, bob_cookies)
            assert response.status_code == 403, (method, url, headers, response.text)
            assert response.json()["error"] == "csrf"
    detail = (await env["admin"].get(f"/api/tickets/{ticket}")).json()["ticket"]
    assert detail["agent"] == "bob" and detail["status"] == "assigned"


async def test_token_of_one_agent_never_acts_as_another(env: Dict[str, Any]) -> None:
    base, ticket = env["base"], env["ticket"]
    alice_token = {"Authorization": f"Bearer {env['alice_token']}"}
    # Alice's token plus Bob's session cookie: the token decides who is calling.
    bob_cookies = dict(env["bob"].http.cookies)
    me = await call(base, "GET", "/api/me", headers=alice_token, cookies=bob_cookies)
    assert me.json()["agent"]["id"] == "alice"
    reply = await call(base, "POST", f"/api/tickets/{ticket}/reply", {"text": "as bob?"},
                       headers=alice_token, cookies=bob_cookies)
    assert reply.status_code == 403
    stolen = await call(base, "POST", "/api/tokens", {"agent": "bob"}, headers=alice_token)
    assert stolen.status_code == 403
    # A token is not a session id (and vice versa).
    forged = await call(base, "GET", "/api/me", cookies={"parley_session": env["alice_token"]})
    assert forged.status_code == 401
    session_as_token = await call(base, "GET", "/api/me",
                                  headers={"Authorization": f"Bearer {env['bob'].http.cookies['parley_session']}"})
    assert session_as_token.status_code == 401


async def test_live_feed_needs_a_session_from_this_origin(env: Dict[str, Any]) -> None:
    url = f"ws://127.0.0.1:{env['port']}/api/live"
    cookie = f"parley_session={env['bob'].http.cookies['parley_session']}"
    cases = [({}, 4401), ({"Cookie": "parley_session=forged"}, 4401),
             ({"Authorization": f"Bearer {env['alice_token']}"}, 4401),
             ({"Cookie": cookie, "Origin": "http://evil.example"}, 4403)]
    for headers, code in cases:
        async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code, headers
    async with websockets.connect(url, additional_headers={"Cookie": cookie,
                                                           "Origin": f"http://127.0.0.1:{env['port']}"}) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["agent"] == "bob"


async def test_cross_origin_form_posts_are_refused(env: Dict[str, Any]) -> None:
    """What a hostile page can make a logged-in agent's browser send: a form POST (urlencoded or
    text/plain "JSON") or a fetch, carrying the cookies, from another Origin; with or without
    the CSRF token (which that page cannot read), it is refused and nothing changes."""
    base, ticket = env["base"], env["ticket"]
    bob = env["bob"]
    cookies = dict(bob.http.cookies)
    url = f"/api/tickets/{ticket}/requeue"
    attempts = [
        ({"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, b'{"agent": ""}'),
        ({"Origin": "null", "Content-Type": "text/plain"}, b"{}"),
        ({"Origin": "http://evil.example", "X-CSRF-Token": bob.csrf}, b"{}"),
        ({"Origin": f"http://127.0.0.1:{env['port']}.evil.example", "X-CSRF-Token": bob.csrf}, b"{}"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),  # no Origin, no token
    ]
    for headers, body in attempts:
        headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        async with httpx.AsyncClient(base_url=base, timeout=15) as raw:
            response = await raw.post(url, content=body, headers=headers)
        assert response.status_code == 403 and response.json()["error"] == "csrf", (headers, response.text)
    detail = (await env["admin"].get(f"/api/tickets/{ticket}")).json()["ticket"]
    assert detail["agent"] == "bob" and detail["status"] == "assigned"
    # The same request from the console itself (same origin, token) works: the refusals are real.
    ok = await bob.post(url, {}, headers={"Origin": f"http://127.0.0.1:{env['port']}"})
    assert ok.status_code == 200, ok.text

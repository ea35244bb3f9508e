"""Every broadcasts route needs a handoff login or API token with a broadcasts role, and cookie
sessions need the CSRF token on writes. Routes are enumerated from the app's router, so a new
route is checked without anyone adding it here."""
from __future__ import annotations

import re
from typing import Iterator, Tuple

import httpx
import pytest

from broadcasts.api.app import create_app
from broadcasts.settings import Settings

from .harness import serve

#: The only routes anyone may call (adding one here is a security decision).
PUBLIC = {"/", "/health", "/healthz", "/readyz", "/metrics", "/login"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def concrete(path: str) -> str:
    """A request path for a route pattern: `<action:start|pause>` -> `start`, `<cid>` -> `x`."""
    def value(m: "re.Match[str]") -> str:
        kind = m.group(2) or ""
        return kind.split("|")[0] if "|" in kind else "x"
    return "/" + re.sub(r"<(\w+)(?::([^>]+))?>", value, path.strip("/"))


def routes(app) -> Iterator[Tuple[str, str]]:  # type: ignore[no-untyped-def]
    for route in app.router.routes:
        if route.path.startswith("web/"):
            continue  # static assets
        for method in route.methods:
            if method not in ("HEAD", "OPTIONS"):
                yield method, concrete(route.path)


@pytest.fixture
async def server(settings, accounts):
    async with serve(settings, background=False) as (url, app):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client, app


async def test_every_route_but_the_public_ones_refuses_strangers_agents_and_csrf_less_sessions(server, accounts):
    client, app = server
    agent = {"Authorization": f"Bearer {await accounts.token('agent')}"}
    session, csrf = await accounts.session("marketer")
    checked = public = 0
    for method, path in sorted(set(routes(app))):
        if path in PUBLIC:
            public += 1
            continue
        assert path.startswith("/api/"), f"{method} {path} is neither public nor under /api/"
        stranger = await client.request(method, path)
        assert stranger.status_code == 401, (method, path, stranger.text)
        assert stranger.json()["login"] == "/login"
        bad = await client.request(method, path, headers={"Authorization": "Bearer pht_forged"})
        assert bad.status_code == 401, (method, path)
        wrong_role = await client.request(method, path, headers=agent)
        assert wrong_role.status_code == 403, (method, path, wrong_role.text)
        if method in UNSAFE:
            cookies = {"parley_session": session}
            client.cookies.clear()
            no_csrf = await client.request(method, path, cookies=cookies)
            assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "csrf", (method, path)
            foreign = await client.request(method, path, cookies=cookies,
                                           headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
            assert foreign.status_code == 403 and foreign.json()["error"] == "csrf", (method, path)
        checked += 1
    assert checked >= 25 and public == len(PUBLIC)


@pytest.mark.parametrize("role,allowed", [("admin", True), ("supervisor", True), ("marketer", True),
                                          ("agent", False)])
async def test_roles(server, accounts, role, allowed):
    client, _ = server
    token = {"Authorization": f"Bearer {await accounts.token(role)}"}
    assert (await client.get("/api/contacts", headers=token)).status_code == (200 if allowed else 403)
    assert (await client.post("/api/segments/count", json={"filter": {}}, headers=token)).status_code == \
        (200 if allowed else 403)  # bearer tokens need no CSRF token


async def test_a_console_session_works_with_its_csrf_token(server, accounts):
    client, _ = server
    session, csrf = await accounts.session("marketer")
    client.cookies.set("parley_session", session)
    assert (await client.get("/api/contacts")).status_code == 200
    saved = await client.post("/api/segments", json={"id": "s1", "name": "all", "filter": {}},
                              headers={"X-CSRF-Token": csrf, "Origin": str(client.base_url).rstrip("/")})
    assert saved.status_code == 201, saved.text
    assert (await client.post("/api/segments", json={"id": "s2", "filter": {}},
                              headers={"X-CSRF-Token": "wrong"})).status_code == 403
    assert (await client.get("/api/segments")).json()["segments"][0]["_id"] == "s1"


async def test_public_routes_and_the_login_redirect(server):
    client, _ = server
    assert (await client.get("/health")).status_code == 200
    page = await client.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    login = await client.get("/login")
    host = client.base_url.host
    assert login.status_code == 302
    assert login.headers["location"].startswith(f"http://{host}:8788/login?next=http%3A%2F%2F{host}%3A")


def test_the_api_will_not_start_without_the_accounts_secret(settings):
    with pytest.raises(ValueError, match="HANDOFF_SECRET_KEY"):
        create_app(Settings(**{**settings.__dict__, "secret_key": ""}))

"""Login brute force: after HANDOFF_LOGIN_MAX_FAILURES wrong passwords from one (account, IP)
the login answers 429 with Retry-After, the right password is refused too until the window
ends, other accounts and other client IPs are unaffected, a forged X-Forwarded-For does not
reset it, and a burst of parallel guesses cannot slip past the limit."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

from tests.handoff.server import Agent, running, settings_for  # noqa: E402

MAX = 3


@pytest.fixture
async def env(redis_url: str, mongo_url: str, mongo_db_name: str) -> AsyncIterator[Dict[str, Any]]:
    settings = settings_for(redis_url, mongo_url, mongo_db_name, login_max_failures=MAX, login_window_seconds=60)
    async with running(settings) as app:
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        assert (await admin.login("admin@example.com", "admin-password")).status_code == 200
        for name in ("alice", "bob"):
            created = await admin.post("/api/agents", {"id": name, "email": f"{name}@example.com",
                                                       "password": f"{name}-password"})
            assert created.status_code == 201
        yield {"base": base, "app": app, "settings": settings}
        await admin.aclose()


def client(base: str, source_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=20,
                             transport=httpx.AsyncHTTPTransport(local_address=source_ip))


async def login(http: httpx.AsyncClient, email: str, password: str, **headers: str) -> httpx.Response:
    return await http.post("/api/login", json={"email": email, "password": password}, headers=headers)


async def test_lockout_per_account_and_ip(env: Dict[str, Any]) -> None:
    async with client(env["base"]) as http, client(env["base"], "127.0.0.2") as other_ip:
        for _ in range(MAX):
            assert (await login(http, "alice@example.com", "wrong-guess")).status_code == 401
        locked = await login(http, "alice@example.com", "wrong-guess")
        assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 60
        # The right password is refused during the lockout, without a session cookie.
        right = await login(http, "alice@example.com", "alice-password")
        assert right.status_code == 429 and "parley_session" not in right.headers.get("set-cookie", "")
        # Case or a forged X-Forwarded-For does not open a new counter.
        assert (await login(http, "ALICE@example.com", "alice-password")).status_code == 429
        assert (await login(http, "alice@example.com", "alice-password",
                            **{"X-Forwarded-For": "10.9.8.7", "X-Real-IP": "10.9.8.7",
                               "Forwarded": "for=10.9.8.7"})).status_code == 429
        # Another account from the same IP, and the same account from another IP, still log in.
        assert (await login(http, "bob@example.com", "bob-password")).status_code == 200
        assert (await login(other_ip, "alice@example.com", "alice-password")).status_code == 200


async def test_parallel_guesses_cannot_exceed_the_limit(env: Dict[str, Any]) -> None:
    async with client(env["base"]) as http:
        results: List[httpx.Response] = await asyncio.gather(
            *(login(http, "bob@example.com", f"guess-{i}") for i in range(12)))
        checked = sum(r.status_code == 401 for r in results)  # a password was actually tried
        assert sorted({r.status_code for r in results}) == [401, 429]
        assert checked <= MAX, f"{checked} passwords tried in one burst, limit {MAX}"
        assert (await login(http, "bob@example.com", "bob-password")).status_code == 429


async def test_unknown_accounts_are_limited_too(env: Dict[str, Any]) -> None:
    async with client(env["base"]) as http:
        statuses = [(await login(http, "nobody@example.com", "x" * 8)).status_code for _ in range(MAX + 1)]
        assert statuses == [401] * MAX + [429]
        # Same message for unknown account and wrong password (no account enumeration).
        unknown = await login(http, "ghost@example.com", "whatever1")
        wrong = await login(http, "alice@example.com", "whatever1")
        assert unknown.status_code == wrong.status_code == 401 and unknown.json() == wrong.json()

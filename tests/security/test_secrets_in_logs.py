"""Secrets never reach logs or error bodies: the handoff service is driven through failures (bad
password, unknown session and token, a Graph API 190 for a wrong access token, malformed input)
while every log record is captured; the secret key, passwords, session cookie, CSRF token, API
token and WhatsApp access token must appear in none of them and in no response body."""
from __future__ import annotations

import logging
from typing import Any, List

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

from tests.handoff.server import SECRET, Agent, running, settings_for  # noqa: E402

ACCESS_TOKEN = "EAAG-leaky-access-token-0123456789"
WRONG_PASSWORD = "hunter2-wrong-Password!"


async def test_secrets_stay_out_of_logs_and_error_bodies(redis_url: str, mongo_url: str, mongo_db_name: str,
                                                         sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(redis_url, mongo_url, mongo_db_name, graph_base_url=sandbox.url,
                            graph_version=sandbox.api_version, access_token=ACCESS_TOKEN,
                            phone_number_id=sandbox.phone_number_id, waba_id=sandbox.waba_id)
    bodies: List[str] = []
    async with running(settings) as _:
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        async with httpx.AsyncClient(base_url=base, timeout=15) as anon:
            bodies.append((await anon.post("/api/login", json={"email": "admin@example.com",
                                                               "password": WRONG_PASSWORD})).text)
            assert (await admin.login("admin@example.com", "admin-password")).status_code == 200
            session = admin.http.cookies["parley_session"]
            token = (await admin.post("/api/tokens", {"label": "crm"})).json()["token"]
            bodies.append((await anon.get("/api/me", headers={"Authorization": f"Bearer {token}x"})).text)
            bodies.append((await anon.get("/api/me", cookies={"parley_session": session + "x"})).text)
            bodies.append((await anon.post("/api/tickets", content=b"{not json",
                                           headers={"Authorization": f"Bearer {token}"})).text)
            bodies.append((await anon.get("/api/tickets?limit=abc", headers={"Authorization": f"Bearer {token}"})).text)
        ticket = (await admin.post("/api/tickets", {"wa_id": "15557770002", "name": "Eve"})).json()["ticket"]["id"]
        assert (await admin.post(f"/api/tickets/{ticket}/claim")).status_code == 200
        # The sandbox refuses the wrong access token with Graph error 190.
        failed = await admin.post(f"/api/tickets/{ticket}/reply",
                                  {"template": {"name": "hello_world", "language": "en_US"}})
        assert failed.status_code >= 400, failed.text
        bodies.append(failed.text)
        bodies.append((await admin.get("/api/templates")).text)
        await admin.aclose()
    # httpcore's DEBUG transport trace prints raw response headers (this test's own clients
    # receiving Set-Cookie); it is a library trace, off unless DEBUG is enabled for it.
    records = [r for r in caplog.records if not r.name.startswith("httpcore")]
    logged = "\n".join(r.getMessage() + repr(r.args) + (r.exc_text or "") for r in records)
    secrets = {"secret key": SECRET, "admin password": "admin-password", "wrong password": WRONG_PASSWORD,
               "session cookie": session, "csrf": admin.csrf, "api token": token, "access token": ACCESS_TOKEN}
    for name, value in secrets.items():
        assert value not in logged, f"{name} in the logs"
        for body in bodies:
            assert value not in body, f"{name} in a response body: {body[:300]}"
    assert "Traceback" not in "".join(bodies)

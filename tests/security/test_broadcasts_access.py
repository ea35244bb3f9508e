"""Authorization on every route of the broadcasts API (a real process), enumerated from its app:
every non-public route answers 401 without credentials or with forged ones, 403 to a handoff
agent (not a broadcasts role), 403 to a cookie session without its CSRF token or from another
Origin; a marketer's token is accepted (the refusals are not vacuous)."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

from .services import SECRET_KEY, issue_token, start_broadcasts  # noqa: E402

PUBLIC = {"", "health", "healthz", "readyz", "metrics", "login", "web/<__file_uri__:path>"}


def broadcasts_routes() -> List[Tuple[str, str]]:
    from broadcasts.api.app import create_app
    from broadcasts.settings import Settings

    app = create_app(Settings(secret_key=SECRET_KEY), name="sec_enum")
    app.router.finalize()
    return sorted({(m, r.path) for r in app.router.routes for m in r.methods - {"HEAD", "OPTIONS"}})


def concrete(path: str) -> str:
    path = re.sub(r"<[a-z_]+:([a-z_-]+)(\|[^>]*)?>", r"\1", path)  # <action:start|pause> -> start
    return "/" + re.sub(r"<[^>]+>", "x1", path)


@pytest.fixture
def svc(tmp_path: Any, redis_url: str, mongo_url: str, mongo_db_name: str, sandbox: Any) -> Iterator[Dict[str, Any]]:
    tokens = {role: issue_token(redis_url, mongo_url, mongo_db_name, f"u-{role}", role)
              for role in ("marketer", "agent")}
    session, csrf = issue_token(redis_url, mongo_url, mongo_db_name, "m-session", "marketer", session=True).split()
    for handle in start_broadcasts(tmp_path, redis_url, mongo_url, mongo_db_name, sandbox):
        with httpx.Client(base_url=handle.url, timeout=30) as http:
            yield {"http": http, "tokens": tokens, "session": session, "csrf": csrf, "url": handle.url}


def test_every_route_is_authenticated_and_role_checked(svc: Dict[str, Any]) -> None:
    http: httpx.Client = svc["http"]
    routes = [(m, p) for m, p in broadcasts_routes() if p not in PUBLIC]
    assert len(routes) > 20
    for method, path in routes:
        url = concrete(path)
        for headers in ({}, {"Authorization": "Bearer pht_forged"}, {"Cookie": "parley_session=forged"}):
            response = http.request(method, url, headers=headers, content=b"{}")
            assert response.status_code == 401, (method, url, headers, response.status_code, response.text[:200])
        agent = http.request(method, url, headers={"Authorization": f"Bearer {svc['tokens']['agent']}"}, content=b"{}")
        assert agent.status_code == 403, (method, url, agent.text[:200])
        if method != "GET":
            cookie = f"parley_session={svc['session']}; parley_csrf={svc['csrf']}"
            for extra in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": svc["csrf"], "Origin": "http://evil.example"}):
                response = http.request(method, url, headers={"Cookie": cookie, **extra}, content=b"{}")
                assert response.status_code == 403, (method, url, extra, response.text[:200])
    marketer = http.get("/api/contacts", headers={"Authorization": f"Bearer {svc['tokens']['marketer']}"})
    assert marketer.status_code == 200
    same_origin = http.put("/api/schema", json={"attributes": []},
                           headers={"Cookie": f"parley_session={svc['session']}; parley_csrf={svc['csrf']}",
                                    "X-CSRF-Token": svc["csrf"], "Origin": svc["url"]})
    assert same_origin.status_code == 200, same_origin.text
    # The public routes leak nothing and the console page carries a CSP.
    health = http.get("/health")
    assert health.status_code == 200 and set(health.json()) <= {"ok", "queue_backlog"}
    page = http.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers

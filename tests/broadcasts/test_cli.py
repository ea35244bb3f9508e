"""`python -m broadcasts <resource> <verb>` as a user runs it: a subprocess talking HTTP to a real
broadcasts API (sandbox, inbound pipeline) with a bearer token issued by handoff's REST API."""
from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from typing import Any, Dict, NamedTuple, Set, Tuple

import httpx
import pytest

from tests.handoff.server import running, settings_for

from .harness import ROOT, SECRET, Pipeline, Sandbox, serve, service_settings

FEMALE = {"all": [{"attr": "gender", "op": "eq", "value": "female"}]}
ROWS = 24
CSV = "phone,name,first_name,gender,opt_in\n" + "".join(
    f"+9198500{i:05d},P{i},F{i},{'female' if i % 2 else 'male'},yes\n" for i in range(ROWS)) + \
    "12,Bad,X,female,yes\n"
BAD_LINE = ROWS + 2  # header is line 1


class Run(NamedTuple):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


async def cli(*args: str, url: str = "", token: str = "") -> Run:
    """The CLI as a separate process (the test's event loop keeps serving the API meanwhile)."""
    env = {k: v for k, v in os.environ.items() if k not in ("BROADCASTS_URL", "PARLEY_API_TOKEN")}
    env.update({"BROADCASTS_URL": url, "PARLEY_API_TOKEN": token})
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "broadcasts", *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return Run(proc.returncode or 0, out.decode(), err.decode())


async def handoff_token(handoff_url: str) -> str:
    """An admin's API token, issued the way an integrator gets one: log in, POST /api/tokens."""
    async with httpx.AsyncClient(base_url=handoff_url, timeout=30) as console:
        login = await console.post("/api/login", json={"email": "admin@example.com", "password": "admin-password"})
        assert login.status_code == 200, login.text
        issued = await console.post("/api/tokens", json={"label": "cli"}, headers={"X-CSRF-Token": login.json()["csrf"]})
        assert issued.status_code == 201, issued.text
        return str(issued.json()["token"])


@pytest.fixture
async def stack(settings, sandbox, redis_url, mongo_url, mongo_db_name):
    """broadcasts (with the sandbox and the inbound pipeline) + handoff on one accounts database."""
    import redis.asyncio as aioredis
    box = Sandbox(sandbox)
    pipeline = Pipeline(aioredis.from_url(settings.redis_url, decode_responses=True),
                        sandbox.app_secret, sandbox.verify_token)
    await box.config(webhook_url=await pipeline.start(), throughput_mps=0, pair_rate=False)
    handoff = settings_for(redis_url, mongo_url, mongo_db_name, secret_key=SECRET)
    async with running(handoff), serve(service_settings(settings, sandbox)) as (url, _):
        token = await handoff_token(f"http://127.0.0.1:{handoff.port}")
        yield {"url": url, "token": token}
    await pipeline.stop()
    await pipeline.redis.aclose()
    await box.close()


async def test_import_segment_campaign_and_analytics_through_the_cli(stack: Dict[str, str], tmp_path) -> None:
    async def run(*args: str) -> Run:
        result = await cli(*args, url=stack["url"], token=stack["token"])
        assert result.code == 0, (args, result)
        return result

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CSV)
    imported = await run("contacts", "import", str(contacts))
    report = imported.json()
    assert (report["state"], report["inserted"], report["failed"]) == ("done", ROWS, 1)
    assert f"line {BAD_LINE}: " in imported.err

    spec = tmp_path / "segment.json"
    spec.write_text(json.dumps({"id": "cli-women", "name": "Women", "filter": FEMALE}))
    assert (await run("segments", "create", f"@{spec}")).json()["_id"] == "cli-women"
    women = ROWS // 2
    assert (await run("segments", "count", str(spec))).json() == {"count": women}
    assert (await run("segments", "get", "cli-women")).json()["count"] == women

    await run("templates", "sync")
    sale = next(t for t in (await run("templates", "list")).json()["templates"] if t["name"] == "spring_sale")
    variables = json.dumps({"first_name": {"attr": "first_name"}, "discount": {"value": "15%"}})
    shown = await run("templates", "preview", sale["_id"], "--phone", "+919850000001", "--variables", variables,
                      "--table")
    assert shown.out.startswith("Hi F1, our spring sale is on: 15% off")

    campaign = (await run("campaigns", "create", "--name", "cli", "--template", sale["_id"], "--segment",
                          "cli-women", "--variables", variables, "--rate", "0")).json()
    cid = campaign["_id"]
    assert campaign["state"] == "draft" and campaign["segment"] == {"segment_id": "cli-women"}
    assert (await run("campaigns", "preflight", cid)).json()["eligible"] == women
    assert (await run("campaigns", "start", cid)).json()["state"] in ("running", "completed")

    for _ in range(60):
        analytics = (await run("campaigns", "analytics", cid, "--json")).json()
        if analytics["state"] == "completed" and analytics["counts"]["delivered"] == women:
            break
        await asyncio.sleep(0.5)
    assert analytics["counts"]["sent"] == women, analytics
    funnel = (await run("campaigns", "analytics", cid)).out
    delivered = next(line for line in funnel.splitlines() if line.startswith("delivered"))
    assert delivered.split()[:3] == ["delivered", str(women), "100.0%"], funnel
    listed = (await run("campaigns", "recipients", cid, "--state", "failed")).json()
    assert listed == {"recipients": []}

    hook = (await run("webhooks", "create", "--endpoint", "https://crm.example/parley", "--event", "campaign.*",
                      "--event", "message.failed", "--description", "cli")).json()
    assert hook["secret"] and hook["events"] == ["campaign.*", "message.failed"]
    paused = (await run("webhooks", "patch", hook["_id"], "--inactive")).json()
    assert paused["active"] is False and "secret" not in paused
    assert [w["_id"] for w in (await run("webhooks", "list")).json()["webhooks"]] == [hook["_id"]]
    await run("webhooks", "delete", hook["_id"])


#: API routes with no CLI command, and why: logout ends a console (cookie) session; the CLI uses tokens.
NOT_IN_CLI = {("POST", "/api/logout")}


def api_routes() -> Set[Tuple[str, str]]:
    """(method, path with ``*`` for parameters) of every /api/ route of the app's router."""
    from broadcasts.api.app import create_app
    from broadcasts.settings import Settings
    app = create_app(Settings(secret_key=SECRET), name="cli_routes")
    app.router.finalize()
    found = set()
    for route in app.router.routes:
        if not route.path.startswith("api/"):
            continue
        choices = re.search(r"<\w+:([\w-]+(?:\|[\w-]+)+)>", route.path)  # <action:start|pause|...>
        for path in ([route.path.replace(choices.group(0), c) for c in choices.group(1).split("|")]
                     if choices else [route.path]):
            found |= {(m, "/" + re.sub(r"<[^>]+>", "*", path)) for m in route.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_api_route_has_a_cli_command() -> None:
    from broadcasts.cli import RESOURCES
    commands = {(c.method, re.sub(r"{\w+}", "*", c.path)) for r in RESOURCES for c in r.commands}
    assert api_routes() - NOT_IN_CLI == commands


async def test_errors_are_one_clear_line_with_the_exit_status(settings, accounts) -> None:
    async with serve(settings, background=False) as (url, _):
        wrong = await cli("campaigns", "list", url=url, token="pht_not-a-token")
        assert wrong.code == 1 and wrong.out == ""
        assert wrong.err.count("\n") == 1 and "401" in wrong.err and "PARLEY_API_TOKEN" in wrong.err
        missing = await cli("segments", "list", url=url)
        assert missing.code == 1 and "no API token given" in missing.err

        token = await accounts.token("marketer")
        absent = await cli("campaigns", "get", "nope", url=url, token=token)
        assert absent.code == 1 and absent.err.strip() == "broadcasts: error 404 (NotFound): no campaign nope"
        usage = await cli("campaigns", "schedule", "nope", "--window", "10-20", url=url, token=token)
        assert usage.code == 2 and "HH:MM-HH:MM" in usage.err

    dead = await cli("contacts", "list", url=url, token="x")  # the server is gone now
    assert dead.code == 1 and dead.err.count("\n") == 1 and "Traceback" not in dead.err
    assert dead.err.startswith(f"broadcasts: cannot reach the broadcasts API at {url}: connection refused")

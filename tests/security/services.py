"""The broadcasts and handoff services as real processes for the security and console tests (sync
clients, so hypothesis and Playwright can drive them), plus log capture helpers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import httpx

from devstack import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "security-tests-secret-key-0123456789"


def issue_token(redis_url: str, mongo_url: str, db: str, agent_id: str, role: str, session: bool = False) -> str:
    """An account in handoff's agents collection (the accounts both consoles share) and a
    bearer token for it (or, with `session`, "<session id> <csrf token>" of a console login)."""
    import asyncio

    import redis.asyncio as aioredis
    from motor.motor_asyncio import AsyncIOMotorClient

    from handoff.auth import Authenticator, Passwords
    from handoff.models import Role
    from handoff.store import MongoAgentStore

    async def run() -> str:
        redis = aioredis.from_url(redis_url)
        mongo = AsyncIOMotorClient(mongo_url, tz_aware=True)
        try:
            auth = Authenticator(redis, MongoAgentStore(mongo[db]), SECRET_KEY, passwords=Passwords(1024, 1))
            await auth.create_agent(agent_id, f"{agent_id}@example.com", agent_id, Role(role), f"{agent_id}-password")
            if session:
                _, session_id, csrf = await auth.login(f"{agent_id}@example.com", f"{agent_id}-password", "127.0.0.1")
                return f"{session_id} {csrf}"
            return await auth.issue_token(agent_id, "security-tests")
        finally:
            mongo.close()
            await redis.aclose()

    return asyncio.run(run())


class Process:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_broadcasts(tmp: Path, redis_url: str, mongo_url: str, db: str, sandbox: Any,
                     env: Optional[Dict[str, str]] = None) -> Iterator[Process]:
    """`python -m broadcasts` on a free port (`env`: extra variables, e.g. ``HANDOFF_PORT``)."""
    port = free_port()
    yield from _serve(tmp, "broadcasts", port, {
        **_shared_env(redis_url, mongo_url, db, sandbox), "BROADCASTS_MONGO_DB": db,
        "BROADCASTS_PORT": str(port), "BROADCASTS_CONSUMER": f"sec-{port}", **(env or {})})


def start_handoff(tmp: Path, redis_url: str, mongo_url: str, db: str, sandbox: Any) -> Iterator[Process]:
    """`python -m handoff` on a free port, admin ``admin@example.com`` / ``admin-password``
    (cheap password hashing, no bot hand-back), sharing the accounts with `start_broadcasts`."""
    port = free_port()
    yield from _serve(tmp, "handoff", port, {
        **_shared_env(redis_url, mongo_url, db, sandbox), "HANDOFF_PORT": str(port),
        "HANDOFF_CONSUMER_NAME": f"sec-{port}", "HANDOFF_BOT_RESUME": "off",
        "HANDOFF_ADMIN_EMAIL": "admin@example.com", "HANDOFF_ADMIN_PASSWORD": "admin-password",
        "HANDOFF_ARGON2_MEMORY_KIB": "1024", "HANDOFF_ARGON2_TIME_COST": "1"})


def _shared_env(redis_url: str, mongo_url: str, db: str, sandbox: Any) -> Dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "MONGODB_URL": mongo_url, "MONGO_URL": mongo_url,
            "GRAPH_BASE_URL": sandbox.graph_url.rsplit("/", 1)[0], "GRAPH_VERSION": sandbox.graph_url.rsplit("/", 1)[1],
            "WHATSAPP_ACCESS_TOKEN": sandbox.access_token, "WHATSAPP_PHONE_NUMBER_ID": sandbox.phone_number_id,
            "WHATSAPP_WABA_ID": sandbox.waba_id, "WA_GRAPH_URL": sandbox.graph_url, "WA_ACCESS_TOKEN": sandbox.access_token,
            "WA_PHONE_NUMBER_ID": sandbox.phone_number_id, "WA_WABA_ID": sandbox.waba_id,
            "PYTHONPATH": str(ROOT), "HANDOFF_SECRET_KEY": SECRET_KEY, "MONGODB_DB": db}


def _serve(tmp: Path, module: str, port: int, env: Dict[str, str]) -> Iterator[Process]:
    """Run `python -m module` until the generator is closed; ready once /healthz answers."""
    log = tmp / f"{module}-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    handle = Process(proc, url, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, handle.output()[-3000:]
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{module} did not start: " + handle.output()[-3000:]
            time.sleep(0.2)
        yield handle
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def counts(mongo_url: str, db: str) -> Dict[str, int]:
    from pymongo import MongoClient

    with MongoClient(mongo_url, serverSelectionTimeoutMS=5000) as client:
        database = client[db]
        return {name: database[name].count_documents({}) for name in sorted(database.list_collection_names())
                if name not in ("imports", "broadcasts_jobs", "templates") and not name.startswith("handoff_")}

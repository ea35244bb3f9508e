"""The broadcasts service as a real process for the security tests (sync clients, so hypothesis
can drive it), plus log capture helpers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

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


def start_broadcasts(tmp: Path, redis_url: str, mongo_url: str, db: str, sandbox: Any) -> Iterator[Process]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "MONGODB_URL": mongo_url, "MONGO_URL": mongo_url,
           "BROADCASTS_MONGO_DB": db, "BROADCASTS_PORT": str(port),
           "GRAPH_BASE_URL": sandbox.graph_url.rsplit("/", 1)[0], "GRAPH_VERSION": sandbox.graph_url.rsplit("/", 1)[1],
           "WHATSAPP_ACCESS_TOKEN": sandbox.access_token, "WHATSAPP_PHONE_NUMBER_ID": sandbox.phone_number_id,
           "WHATSAPP_WABA_ID": sandbox.waba_id, "WA_GRAPH_URL": sandbox.graph_url, "WA_ACCESS_TOKEN": sandbox.access_token,
           "WA_PHONE_NUMBER_ID": sandbox.phone_number_id, "WA_WABA_ID": sandbox.waba_id,
           "BROADCASTS_CONSUMER": f"sec-{port}", "PYTHONPATH": str(ROOT), "HANDOFF_SECRET_KEY": SECRET_KEY,
           "MONGODB_DB": db}
    log = tmp / f"broadcasts-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "broadcasts"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    handle = Process(proc, url, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, handle.output()[-3000:]
            try:
                if httpx.get(url + "/health", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "broadcasts did not start: " + handle.output()[-3000:]
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

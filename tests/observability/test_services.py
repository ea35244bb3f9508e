"""Handoff's and broadcasts' probes and gauges on real stores (services env): /readyz is 200
with everything up and 503 naming Redis, then MongoDB, when their private servers are stopped;
/metrics carries the handoff queue and the progress of running campaigns only."""
from __future__ import annotations

import subprocess
import uuid
from typing import Any, Iterator, Tuple

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

from devstack import free_port, start_mongo, start_redis  # noqa: E402
from tests.handoff.server import Agent, running, settings_for  # noqa: E402

from .test_http import sample  # noqa: E402


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def private_stores() -> Iterator[Tuple[str, str, subprocess.Popen, subprocess.Popen]]:
    """A redis-server and a MongoDB-compatible server of this test alone (it stops them)."""
    redis_port, mongo_port = free_port(), free_port()
    redis, mongo = start_redis(redis_port), start_mongo(mongo_port)
    yield f"redis://127.0.0.1:{redis_port}/0", f"mongodb://127.0.0.1:{mongo_port}/", redis, mongo
    for process in (redis, mongo):
        if process.poll() is None:
            stop(process)


async def test_handoff_readyz_names_redis_then_mongodb_when_each_goes_down(private_stores: Any) -> None:
    redis_url, mongo_url, redis, mongo = private_stores
    settings = settings_for(redis_url, mongo_url, "obs", run_consumers=False)
    async with running(settings):
        base = f"http://127.0.0.1:{settings.port}"
        admin = Agent(base)
        assert (await admin.login("admin@example.com", "admin-password")).status_code == 200
        assert (await admin.post("/api/tickets", {"wa_id": "919876500001", "name": "Ravi"})).status_code in (200, 201)
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert {name: c["ok"] for name, c in ready.json()["checks"].items()} == {"redis": True, "mongodb": True}
            scraped = await http.get("/metrics")
            assert scraped.status_code == 200
            assert sample("parley_handoff_tickets", status="queued") == 1
            assert sample("parley_handoff_tickets", status="assigned") == 0
            assert 'parley_stream_length{stream="parley:events"}' in scraped.text

            stop(redis)
            down = await http.get("/readyz")
            assert down.status_code == 503, down.text
            checks = down.json()["checks"]
            assert checks["redis"]["ok"] is False and checks["mongodb"]["ok"] is True
            assert (await http.get("/healthz")).status_code == 200  # alive, only not ready
            assert (await http.get("/metrics")).status_code == 200  # a scrape still answers

            stop(mongo)
            down = await http.get("/readyz")
            assert down.status_code == 503 and down.json()["checks"]["mongodb"]["ok"] is False, down.text
        await admin.aclose()


async def test_broadcasts_publishes_the_progress_of_running_and_paused_campaigns_only(
        redis_url: str, mongo_url: str, mongo_db_name: str) -> None:
    from motor.motor_asyncio import AsyncIOMotorClient

    from broadcasts.settings import Settings
    from tests.broadcasts.harness import SECRET, serve

    settings = Settings(redis_url=redis_url, mongo_url=mongo_url, mongo_db=mongo_db_name, consumer_name="obs",
                        secret_key=SECRET, accounts_db=mongo_db_name)
    running_id, done_id = f"run-{uuid.uuid4().hex[:6]}", f"done-{uuid.uuid4().hex[:6]}"
    mongo = AsyncIOMotorClient(mongo_url)
    campaigns = mongo[mongo_db_name]["campaigns"]
    await campaigns.insert_many([
        {"_id": running_id, "state": "running", "stats": {"audience": 10, "sent": 6, "delivered": 4, "read": 2,
                                                           "failed": 1}},
        {"_id": done_id, "state": "completed", "stats": {"audience": 3, "sent": 3}}])
    try:
        async with serve(settings, background=False) as (url, _app):
            async with httpx.AsyncClient(base_url=url, timeout=20) as http:
                assert (await http.get("/readyz")).json()["checks"] == {
                    "redis": {"ok": True, "ms": pytest.approx(0, abs=2000)},
                    "mongodb": {"ok": True, "ms": pytest.approx(0, abs=2000)}}
                scraped = (await http.get("/metrics")).text
                assert sample("parley_campaign_recipients", campaign=running_id, stage="sent") == 6
                assert sample("parley_campaign_recipients", campaign=running_id, stage="read") == 2
                assert sample("parley_campaign_recipients", campaign=running_id, stage="skipped") == 0
                assert done_id not in scraped
                assert 'parley_stream_length{stream="parley:bc:queue:normal"}' in scraped
                await campaigns.update_one({"_id": running_id}, {"$set": {"state": "completed"}})
                assert running_id not in (await http.get("/metrics")).text  # finished: its series go
    finally:
        await mongo.drop_database(mongo_db_name)
        mongo.close()

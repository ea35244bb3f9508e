"""The REST API end to end (a real Sanic server) against the sandbox."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from .harness import Pipeline, Sandbox, serve, service_settings, wait_for
from .helpers import per_recipient

CSV = "phone,name,first_name,gender,shoe_size,opt_in\n" + "\n".join(
    f"+9198400{i:05d},P{i},F{i},{'female' if i % 2 else 'male'},{4 + i % 8},yes" for i in range(60)) + \
    "\nnope,Bad,X,female,6,yes\n"


@pytest.fixture
async def api(settings, sandbox, accounts):
    box = Sandbox(sandbox)
    pipeline = Pipeline(__import__("redis.asyncio", fromlist=["x"]).from_url(settings.redis_url, decode_responses=True),
                        sandbox.app_secret, sandbox.verify_token)
    await box.config(webhook_url=await pipeline.start(), throughput_mps=0, pair_rate=False)
    async with serve(service_settings(settings, sandbox)) as (url, app):
        client = httpx.AsyncClient(base_url=url, timeout=30,
                                   headers={"Authorization": f"Bearer {await accounts.token('marketer')}"})
        await client.post("/api/templates/sync")
        yield client, box, app
        await client.aclose()
    await pipeline.stop()
    await pipeline.redis.aclose()
    await box.close()


async def test_import_segment_preview_schedule_and_analytics(api):
    client, box, app = api
    job = (await client.post("/api/contacts/import", content=CSV.encode())).json()["job"]

    async def imported():
        doc = (await client.get(f"/api/imports/{job}")).json()
        return doc if doc.get("state") == "done" else None
    report = await wait_for(imported, 30)
    assert report["inserted"] == 60 and report["failed"] == 1 and report["errors"][0]["line"] == 62

    filter_ = {"all": [{"attr": "gender", "op": "eq", "value": "female"},
                       {"attr": "shoe_size", "op": "range", "gte": 6, "lte": 8}]}
    count = (await client.post("/api/segments/count", json={"filter": filter_})).json()["count"]
    expected = sum(1 for i in range(60) if i % 2 and 6 <= 4 + i % 8 <= 8)
    assert count == expected
    seg = (await client.post("/api/segments", json={"id": "f68", "name": "F 6-8", "filter": filter_})).json()
    templates = (await client.get("/api/templates")).json()["templates"]
    sale = next(t for t in templates if t["name"] == "spring_sale")
    variables = {"first_name": {"attr": "first_name"}, "discount": {"value": "15%"}}
    shown = (await client.post(f"/api/templates/{sale['_id']}/preview",
                               json={"phone": "+919840000001", "variables": variables})).json()
    assert shown["text"].startswith("Hi F1, our spring sale is on: 15% off")

    campaign = (await client.post("/api/campaigns", json={"name": "api", "template_id": sale["_id"],
                                                          "variables": variables,
                                                          "segment": {"segment_id": seg["_id"]}, "rate": 0})).json()
    plan = (await client.post(f"/api/campaigns/{campaign['_id']}/preflight")).json()
    assert plan["eligible"] == expected and plan["estimated_cost"] > 0
    at = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat()
    scheduled = await client.post(f"/api/campaigns/{campaign['_id']}/schedule",
                                  json={"schedule": {"at": at, "timezone": "Asia/Kolkata"}})
    assert scheduled.status_code == 200 and scheduled.json()["state"] == "scheduled"
    assert (await client.post(f"/api/campaigns/{campaign['_id']}/resume")).status_code == 409

    async def done():
        a = (await client.get(f"/api/campaigns/{campaign['_id']}/analytics")).json()
        return a if a["state"] == "completed" and a["counts"]["delivered"] == expected else None
    analytics = await wait_for(done, 30)
    assert analytics and analytics["counts"]["sent"] == expected
    assert len(per_recipient(await box.outbox(), "spring_sale")) == expected


async def test_business_event_export_and_erase(api):
    client, box, app = api
    templates = (await client.get("/api/templates")).json()["templates"]
    order = next(t for t in templates if t["name"] == "order_update")
    event = {"id": "order-1", "type": "order_placed", "phone": "+919840099999", "name": "Zara",
             "attributes": {"first_name": "Zara", "city": "Goa"}, "opt_in": ["marketing"],
             "template": {"id": order["_id"], "variables": {"1": {"attr": "first_name"}, "2": {"value": "A-7"},
                                                           "3": {"value": "confirmed"}}}}
    first = await client.post("/api/events", json=event)
    assert first.status_code == 202 and first.json()["wamid"]
    again = (await client.post("/api/events", json=event)).json()
    assert again["duplicate"] and again["wamid"] == first.json()["wamid"]
    assert len(await box.outbox("919840099999")) == 1
    bad = await client.post("/api/events", json={**event, "id": "order-2", "phone": "123"})
    assert bad.status_code == 400
    exported = (await client.get("/api/contacts/+919840099999/export")).json()
    assert exported["contact"]["attrs"]["city"] == "Goa"
    assert exported["consent_ledger"][0]["action"] == "opt_in"
    assert exported["business_events"][0]["_id"] == "order-1"
    erased = (await client.delete("/api/contacts/+919840099999")).json()["deleted"]
    assert erased["contacts"] == 1 and erased["consent_ledger"] == 1
    assert (await client.get("/api/contacts/+919840099999")).status_code == 404

"""Signed outbound webhooks for CRMs (broadcasts/crm): real receivers on 127.0.0.1, real Redis
stream and MongoDB outbox, the dispatcher and sender loops as the runtime runs them."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import time
from typing import Any, AsyncIterator, Dict, List, Optional

import httpx
import pytest

from broadcasts.crm.dispatcher import Dispatcher
from broadcasts.settings import Settings
from connectors import keys as shared_keys
from connectors.events import Event
from devstack import free_port

from .harness import SECRET, serve, wait_for

#: Short timings so retries and dead letters happen within a test.
FAST = dict(crm_timeout_seconds=1.0, crm_retry_schedule=(0.1, 0.2), crm_max_attempts=3, crm_poll_seconds=0.05,
            crm_concurrency=4, crm_per_endpoint=2)


@contextlib.asynccontextmanager
async def crm_loops(ctx: Any, name: str = "crm-test", **overrides: Any) -> AsyncIterator[None]:
    """The dispatcher and sender loops of `Runtime`, with FAST settings."""
    settings = Settings(**{**ctx.settings.__dict__, **FAST, **overrides})
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for _, loop in ctx.webhooks.loops(ctx.redis, settings, name)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)


def verified(secret: str, request: Any, tolerance: float = 300) -> bool:
    """The receiver's check, written from the README (not from broadcasts.crm.signing)."""
    timestamp = request.headers["x-parley-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= tolerance
    return fresh and hmac.compare_digest(f"sha256={expected}", request.headers["x-parley-signature"])


async def received(receiver: Any, n: int, timeout: float = 15.0) -> List[Any]:
    """The receiver's requests once there are at least n (it is a thread: poll, never block the loop)."""
    async def enough() -> bool:
        return len(receiver.requests) >= n
    assert await wait_for(enough, timeout, 0.02), f"expected {n} POSTs, got {len(receiver.requests)}"
    return list(receiver.requests)


async def emit(ctx: Any, kind: str, event_id: str, data: Dict[str, Any]) -> None:
    await ctx.redis.xadd(shared_keys.EVENTS_STREAM, Event(kind, event_id, data).to_fields())


async def status(ctx: Any, kind: str, campaign_id: str, wa_id: str, wamid: str,
                 errors: Optional[List[Dict[str, Any]]] = None, callback: Optional[str] = None) -> None:
    """A status event as connectors.mapping emits it for a campaign message."""
    value = kind.split(".")[1]
    await emit(ctx, kind, f"{wamid}:{value}", {
        "wamid": wamid, "wa_id": wa_id, "status": value, "timestamp": str(int(time.time())),
        "phone_number_id": "100000000000001", "errors": errors or [], "pricing": None,
        "biz_opaque_callback_data": f"campaign:{campaign_id}:{wa_id}" if callback is None else callback})


async def scheduled_campaign(ctx: Any, campaign_id: str) -> None:
    """A real campaign transition (draft -> scheduled): emits ``campaign.scheduled``."""
    await ctx.campaigns.create({"template_id": "t1"}, campaign_id)
    await ctx.campaigns.transition(campaign_id, "schedule")


async def outbox(ctx: Any, subscription_id: str) -> List[Dict[str, Any]]:
    return [d async for d in ctx.webhooks.outbox.col.find({"subscription_id": subscription_id})]


async def all_in(ctx: Any, subscription_id: str, state: str, n: int) -> bool:
    docs = await outbox(ctx, subscription_id)
    return len(docs) == n and all(d["state"] == state for d in docs)


async def test_campaign_transitions_and_campaign_statuses_arrive_signed(ctx, webhook_receiver):
    sub = await ctx.webhooks.subscriptions.create(
        {"url": webhook_receiver.url, "events": ["campaign.*", "message.delivered", "message.failed"]})
    async with crm_loops(ctx):
        await scheduled_campaign(ctx, "c1")
        await status(ctx, "message.delivered", "c1", "15550001111", "wamid.A")
        await status(ctx, "message.failed", "c1", "15550002222", "wamid.B",
                     errors=[{"code": 131026, "title": "Message undeliverable", "details": ""}])
        await status(ctx, "message.read", "c1", "15550001111", "wamid.A")  # not subscribed
        await status(ctx, "message.delivered", "c1", "15550003333", "wamid.C", callback="")  # not a campaign's
        requests = await received(webhook_receiver, 3)
        await asyncio.sleep(0.5)
    assert len(webhook_receiver.requests) == 3
    by_type = {r.headers["x-parley-event"]: r for r in requests}
    assert set(by_type) == {"campaign.scheduled", "message.delivered", "message.failed"}
    for request in requests:
        assert verified(sub["secret"], request), request.headers
        assert not verified(sub["secret"] + "x", request)
        body = request.json()
        assert set(body) == {"id", "type", "created_at", "data"} and body["type"] == request.headers["x-parley-event"]
        assert request.headers["x-parley-delivery"] == f"{body['id']}:{sub['_id']}"
    assert by_type["campaign.scheduled"].json()["data"] == {"campaign_id": "c1", "action": "schedule",
                                                            "state": "scheduled", "reason": ""}
    delivered = by_type["message.delivered"].json()["data"]
    assert (delivered["campaign_id"], delivered["wa_id"], delivered["status"], delivered["error_code"]) == \
        ("c1", "15550001111", "delivered", None)
    failed = by_type["message.failed"].json()["data"]
    assert (failed["campaign_id"], failed["wa_id"], failed["status"], failed["error_code"]) == \
        ("c1", "15550002222", "failed", 131026)
    assert await all_in(ctx, sub["_id"], "delivered", 3)


async def test_5xx_is_retried_with_the_same_delivery_id_until_it_succeeds(ctx, webhook_receiver):
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.scheduled"]})
    webhook_receiver.respond_with(500, times=2)
    async with crm_loops(ctx):
        await scheduled_campaign(ctx, "c2")
        requests = await received(webhook_receiver, 3)
        assert await wait_for(lambda: all_in(ctx, sub["_id"], "delivered", 1), 10)
    assert len({r.headers["x-parley-delivery"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(verified(sub["secret"], r) for r in requests)
    [doc] = await outbox(ctx, sub["_id"])
    assert doc["attempts"] == 3 and [a["status"] for a in doc["log"]] == [500, 500, 200]
    gaps = [b.at - a.at for a, b in zip(requests, requests[1:])]
    assert all(gap >= 0.07 for gap in gaps), gaps  # the backoff (0.1 s, 0.2 s, +-20 % jitter) was waited


async def test_a_4xx_is_not_retried(ctx, webhook_receiver):
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.*"]})
    webhook_receiver.respond_with(400, times=1)
    async with crm_loops(ctx):
        await scheduled_campaign(ctx, "c3")
        assert await wait_for(lambda: all_in(ctx, sub["_id"], "failed", 1), 10)
        await asyncio.sleep(0.8)  # longer than the whole retry schedule
    assert len(webhook_receiver.requests) == 1
    [doc] = await outbox(ctx, sub["_id"])
    assert doc["attempts"] == 1 and doc["last_status"] == 400


async def test_a_dead_receiver_ends_dead_and_a_hanging_one_does_not_delay_a_healthy_one(ctx, webhook_receiver):
    hanging = socket.socket()  # accepts connections (kernel backlog) and never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(64)
    try:
        events = ["campaign.*"]
        dead = await ctx.webhooks.subscriptions.create({"url": f"http://127.0.0.1:{free_port()}/hook", "events": events})
        slow = await ctx.webhooks.subscriptions.create(
            {"url": f"http://127.0.0.1:{hanging.getsockname()[1]}/hook", "events": events})
        healthy = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": events})
        async with crm_loops(ctx, crm_timeout_seconds=5.0):
            for i in range(6):
                await scheduled_campaign(ctx, f"d{i}")
            await received(webhook_receiver, 6, timeout=20)
            # Every healthy delivery went out while the hanging endpoint's first attempts were still waiting.
            assert not any(d["log"] for d in await outbox(ctx, slow["_id"]))
            assert await wait_for(lambda: all_in(ctx, dead["_id"], "dead", 6), 20)
        for doc in await outbox(ctx, dead["_id"]):
            assert doc["attempts"] == FAST["crm_max_attempts"] and len(doc["log"]) == doc["attempts"]
            assert all(a["status"] is None and a["error"] for a in doc["log"])
        assert await all_in(ctx, healthy["_id"], "delivered", 6)
        assert sorted(r.json()["data"]["campaign_id"] for r in webhook_receiver.requests) == [f"d{i}" for i in range(6)]
    finally:
        hanging.close()


async def drain(dispatcher: Dispatcher) -> None:
    """Run a dispatcher (no sender) until it has read what the stream holds."""
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await task


class AckFails:
    """The Redis client of a dispatcher that dies between its outbox write and its XACK."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def xack(self, *args: Any) -> int:
        raise ConnectionError("killed before XACK")


async def test_re_reading_the_stream_creates_no_duplicate_deliveries(ctx, webhook_receiver):
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.*"]})
    stores = (ctx.webhooks.subscriptions, ctx.webhooks.outbox)
    for i in range(3):
        await scheduled_campaign(ctx, f"r{i}")
    crashing = Dispatcher(AckFails(ctx.redis), *stores, "crm-a")
    with pytest.raises(ConnectionError):
        await crashing.run(asyncio.Event())
    assert len(await outbox(ctx, sub["_id"])) == 3
    pending = await ctx.redis.xpending(shared_keys.EVENTS_STREAM, "crm-webhooks")
    assert pending["pending"] == 3  # read, written, never acknowledged

    await drain(Dispatcher(ctx.redis, *stores, "crm-a"))  # the restarted consumer re-reads its pending entries
    assert (await ctx.redis.xpending(shared_keys.EVENTS_STREAM, "crm-webhooks"))["pending"] == 0
    await ctx.redis.xgroup_setid(shared_keys.EVENTS_STREAM, "crm-webhooks", "0")  # the whole stream again
    await drain(Dispatcher(ctx.redis, *stores, "crm-b"))
    assert len(await outbox(ctx, sub["_id"])) == 3
    async with crm_loops(ctx):
        await received(webhook_receiver, 3)
        await asyncio.sleep(0.5)
    assert len(webhook_receiver.requests) == 3
    assert len({r.headers["x-parley-delivery"] for r in webhook_receiver.requests}) == 3


async def test_events_before_a_subscription_existed_are_not_sent_to_it(ctx, webhook_receiver):
    await scheduled_campaign(ctx, "old")
    await asyncio.sleep(0.01)  # MongoDB keeps milliseconds: the same millisecond counts as "after"
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["*"]})
    async with crm_loops(ctx):
        await scheduled_campaign(ctx, "new")
        requests = await received(webhook_receiver, 1)
        await asyncio.sleep(0.5)
    assert [r.json()["data"]["campaign_id"] for r in requests] == ["new"]
    assert len(await outbox(ctx, sub["_id"])) == 1


@pytest.fixture
async def api(settings, accounts):
    async with serve(settings, background=False) as (url, app):
        token = await accounts.token("marketer")
        async with httpx.AsyncClient(base_url=url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            yield client, app


BAD_SUBSCRIPTIONS = [
    ({"url": "ftp://crm.example/hook", "events": ["campaign.*"]}, "http:// or https://"),
    ({"url": "not a url", "events": ["campaign.*"]}, "http:// or https://"),
    ({"url": "https:///hook", "events": ["campaign.*"]}, "no host"),
    ({"url": "https://user:pw@crm.example/hook", "events": ["campaign.*"]}, "credentials"),
    ({"url": "https://crm.example:99999/hook", "events": ["campaign.*"]}, "not a valid URL"),
    ({"events": ["campaign.*"]}, "url is required"),
    ({"url": "https://crm.example/hook"}, "events must be"),
    ({"url": "https://crm.example/hook", "events": ["campaign.sent"]}, "matches no event type"),
    ({"url": "https://crm.example/hook", "events": "campaign.*"}, "events must be"),
    ({"url": "https://crm.example/hook", "events": ["campaign.*"], "active": "yes"}, "active must be"),
]


async def test_a_bad_subscription_is_refused_with_a_clear_400(api):
    client, _ = api
    for spec, message in BAD_SUBSCRIPTIONS:
        response = await client.post("/api/webhooks", json=spec)
        assert response.status_code == 400, (spec, response.text)
        assert message in response.json()["error"], (spec, response.text)
    assert (await client.get("/api/webhooks")).json()["webhooks"] == []
    good = await client.post("/api/webhooks", json={"url": "https://crm.example:8443/parley?x=1", "events": ["*"]})
    assert good.status_code == 201, good.text
    bad_edit = await client.patch(f"/api/webhooks/{good.json()['_id']}", json={"url": "javascript:alert(1)"})
    assert bad_edit.status_code == 400 and "http:// or https://" in bad_edit.json()["error"]


async def test_the_secret_is_returned_once_and_never_in_reads_or_logs(api, webhook_receiver, caplog):
    caplog.set_level(logging.DEBUG)
    client, app = api
    created = await client.post("/api/webhooks", json={"url": webhook_receiver.url, "events": ["campaign.*"],
                                                       "description": "crm"})
    assert created.status_code == 201, created.text
    sub = created.json()
    wid, first = sub["_id"], sub["secret"]
    assert first.startswith("whsec_") and len(first) > 30
    rotated = await client.post(f"/api/webhooks/{wid}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["_id"] == wid
    secret = rotated.json()["secret"]
    assert secret != first
    reads = [await client.get("/api/webhooks"), await client.get(f"/api/webhooks/{wid}"),
             await client.patch(f"/api/webhooks/{wid}", json={"description": "renamed"})]
    for response in reads:
        assert response.status_code == 200 and "secret" not in response.text, response.text
        assert first not in response.text and secret not in response.text
    assert reads[2].json()["description"] == "renamed" and reads[2].json()["active"] is True
    async with crm_loops(app.ctx.bc):
        await scheduled_campaign(app.ctx.bc, "s1")
        [request] = await received(webhook_receiver, 1)
    assert verified(secret, request) and not verified(first, request)
    deliveries = (await client.get(f"/api/webhooks/{wid}/deliveries")).json()["deliveries"]
    assert [(d["type"], d["state"], [a["status"] for a in d["log"]]) for d in deliveries] == \
        [("campaign.scheduled", "delivered", [200])]
    assert secret not in json.dumps(deliveries)
    # pymongo's DEBUG command log prints whole documents (any stored secret) and httpcore's traces
    # this test's own client: driver traces, off unless DEBUG is enabled for them (README).
    records = [r for r in caplog.records if not r.name.startswith(("pymongo", "httpcore"))]
    logged = "\n".join(r.getMessage() + repr(r.args) + (r.exc_text or "") for r in records)
    assert "webhook" in logged  # the sender logged its attempt...
    assert first not in logged and secret not in logged and SECRET not in logged  # ...without a secret
    assert (await client.delete(f"/api/webhooks/{wid}")).status_code == 200
    assert (await client.get(f"/api/webhooks/{wid}")).status_code == 404
    assert (await client.get(f"/api/webhooks/{wid}/deliveries")).status_code == 404
    assert await app.ctx.bc.webhooks.outbox.col.count_documents({"subscription_id": wid}) == 0


async def test_an_inactive_subscription_gets_nothing_new_and_holds_pending_deliveries(ctx, webhook_receiver):
    subs = ctx.webhooks.subscriptions
    sub = await subs.create({"url": webhook_receiver.url, "events": ["campaign.*"]})
    await scheduled_campaign(ctx, "i1")
    await drain(Dispatcher(ctx.redis, subs, ctx.webhooks.outbox, "crm-test"))  # a delivery, not sent yet
    await subs.update(sub["_id"], {"active": False})
    async with crm_loops(ctx):
        await scheduled_campaign(ctx, "i2")  # while inactive: not subscribed
        await asyncio.sleep(0.8)
        assert webhook_receiver.requests == []
        assert [d["state"] for d in await outbox(ctx, sub["_id"])] == ["pending"]
        await subs.update(sub["_id"], {"active": True})
        [request] = await received(webhook_receiver, 1)
        await asyncio.sleep(0.3)
    assert len(webhook_receiver.requests) == 1 and request.json()["data"]["campaign_id"] == "i1"


def test_the_retry_schedule_is_read_from_the_environment():
    settings = Settings.from_env({"BROADCASTS_CRM_RETRY_SCHEDULE": "1,5,30", "BROADCASTS_CRM_MAX_ATTEMPTS": "4",
                                  "BROADCASTS_CRM_TIMEOUT_S": "2.5"})
    assert (settings.crm_retry_schedule, settings.crm_max_attempts, settings.crm_timeout_seconds) == \
        ((1.0, 5.0, 30.0), 4, 2.5)
    with pytest.raises(ValueError, match="BROADCASTS_CRM_RETRY_SCHEDULE"):
        Settings.from_env({"BROADCASTS_CRM_RETRY_SCHEDULE": "soon"})


async def test_a_real_campaign_reaches_the_crm_through_the_runtime(live, webhook_receiver):
    """Runtime wiring end to end: sandbox statuses -> inbound pipeline -> parley:events -> outbox -> CRM."""
    from .helpers import SALE_VARS, import_contacts, template_id
    ctx = live.ctx
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.*", "message.*"]})
    people = await import_contacts(ctx, 2)
    campaign = await ctx.service.create({"name": "crm", "template_id": await template_id(ctx, "spring_sale"),
                                         "variables": SALE_VARS, "segment": {"filter": {}}, "rate": 0})
    await ctx.service.start(campaign["_id"])

    def seen(receiver: Any) -> set:
        return {(r.headers["x-parley-event"], r.json()["data"].get("wa_id")) for r in list(receiver.requests)}

    wanted = {("campaign.running", None), ("campaign.completed", None)} | \
        {(f"message.{s}", p) for s in ("sent", "delivered", "read") for p in people}

    async def arrived() -> bool:
        return wanted <= seen(webhook_receiver)
    assert await wait_for(arrived, 45), seen(webhook_receiver)
    for request in webhook_receiver.requests:
        assert verified(sub["secret"], request)
        assert request.json()["data"]["campaign_id"] == campaign["_id"]


async def test_a_malformed_entry_is_skipped_and_acknowledged(ctx, webhook_receiver):
    await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.*"]})
    await ctx.redis.xadd(shared_keys.EVENTS_STREAM, {"type": "campaign.running", "id": "bad", "data": "{not json"})
    async with crm_loops(ctx):
        await scheduled_campaign(ctx, "m1")
        [request] = await received(webhook_receiver, 1)
    assert request.json()["data"]["campaign_id"] == "m1"
    assert (await ctx.redis.xpending(shared_keys.EVENTS_STREAM, "crm-webhooks"))["pending"] == 0


async def test_erasing_a_contact_erases_its_crm_deliveries(ctx, webhook_receiver):
    from broadcasts.business import erase_contact

    from .helpers import import_contacts
    [wa_id] = await import_contacts(ctx, 1)
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["*"]})
    await scheduled_campaign(ctx, "e1")
    await status(ctx, "message.delivered", "e1", wa_id, "wamid.E")
    await drain(Dispatcher(ctx.redis, ctx.webhooks.subscriptions, ctx.webhooks.outbox, "crm-test"))
    assert len(await outbox(ctx, sub["_id"])) == 2
    assert (await erase_contact(ctx, wa_id))["crm_deliveries"] == 1
    assert [d["type"] for d in await outbox(ctx, sub["_id"])] == ["campaign.scheduled"]


async def test_two_processes_send_each_delivery_once(ctx, webhook_receiver):
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.*"]})
    async with crm_loops(ctx, name="crm-p1"), crm_loops(ctx, name="crm-p2"):
        for i in range(20):
            await scheduled_campaign(ctx, f"p{i}")
        await received(webhook_receiver, 20)
        assert await wait_for(lambda: all_in(ctx, sub["_id"], "delivered", 20), 10)
        await asyncio.sleep(0.5)
    ids = [r.headers["x-parley-delivery"] for r in webhook_receiver.requests]
    assert len(ids) == len(set(ids)) == 20


async def test_an_attempt_of_a_process_that_died_is_made_again_after_its_lease(ctx, webhook_receiver):
    from datetime import datetime, timedelta, timezone
    sub = await ctx.webhooks.subscriptions.create({"url": webhook_receiver.url, "events": ["campaign.*"]})
    await scheduled_campaign(ctx, "l1")
    await drain(Dispatcher(ctx.redis, ctx.webhooks.subscriptions, ctx.webhooks.outbox, "crm-test"))
    [doc] = await outbox(ctx, sub["_id"])
    lease = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert await ctx.webhooks.outbox.claim(doc, lease)  # claimed by a process that then dies
    assert not await ctx.webhooks.outbox.claim(doc, lease)  # nobody else may take it meanwhile
    async with crm_loops(ctx):
        [request] = await received(webhook_receiver, 1)
    assert request.at >= lease.timestamp() - 0.05
    [doc] = await outbox(ctx, sub["_id"])
    assert doc["state"] == "delivered" and doc["attempts"] == 2 and [a["attempt"] for a in doc["log"]] == [2]

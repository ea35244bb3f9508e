"""Sender against the real sandbox: window, fallback, consent, retries, typed failures, events."""
from __future__ import annotations

import time
from typing import Any, List

import httpx
import pytest
import redis.asyncio as aioredis

from connectors import events, keys, payloads
from connectors.client import GraphClient
from connectors.consent import RedisConsent, mark_opted_out
from connectors.errors import (ConsentRefused, RetryPolicy, TemplateError, TransportError, WhatsAppError,
                               WindowClosed)
from connectors.ratelimit import RateLimits, RedisBatcher
from connectors.sender import Purpose, Sender
from connectors.window import refresh_window

from .sandbox_support import configure, outbox

CUSTOMER = "16505551234"
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, pair_base=0.05)


def make_sender(graph: GraphClient, redis: Any, **options: Any) -> Sender:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("limits", RateLimits(mps=None, pair_interval=None))
    return Sender(graph, redis, **options)


async def recorded(redis: aioredis.Redis) -> List[events.Event]:
    return [events.Event.from_fields(fields) for _, fields in await redis.xrange(keys.EVENTS_STREAM)]


async def test_text_in_window_goes_out_and_is_recorded(graph: GraphClient, redis: aioredis.Redis,
                                                       admin: httpx.AsyncClient, sandbox: Any) -> None:
    await refresh_window(redis, sandbox.phone_number_id, CUSTOMER, time.time() - 60)
    sender = make_sender(graph, redis)
    result = await sender.send("+1 650 555 1234", payloads.text("Hello there 👋 ñ"), by="agent:7",
                               callback_data="ticket-9")
    assert result.wamid.startswith("wamid.") and result.attempts == 1 and not result.fallback_used
    (message,) = await outbox(admin, CUSTOMER)
    assert message["wamid"] == result.wamid and message["type"] == "text"
    assert message["payload"]["text"] == {"body": "Hello there 👋 ñ"}
    assert message["payload"]["biz_opaque_callback_data"] == "ticket-9"
    (event,) = await recorded(redis)
    assert event.type == events.MESSAGE_OUTBOUND
    assert {k: event.data[k] for k in ("wamid", "wa_id", "by")} == {"wamid": result.wamid, "wa_id": CUSTOMER,
                                                                    "by": "agent:7"}
    assert event.data["payload"]["text"] == {"body": "Hello there 👋 ñ"} and "to" not in event.data["payload"]


async def test_window_closed_is_refused_locally(graph: GraphClient, redis: aioredis.Redis,
                                                admin: httpx.AsyncClient) -> None:
    sender = make_sender(graph, redis)
    with pytest.raises(WindowClosed) as caught:
        await sender.send(CUSTOMER, payloads.text("Are you there?"))
    assert caught.value.local and caught.value.code == 131047
    assert await outbox(admin, CUSTOMER) == []  # nothing reached the Graph API
    (event,) = await recorded(redis)
    assert event.type == events.MESSAGE_FAILED and event.data["wamid"] is None
    assert event.data["errors"][0]["code"] == 131047 and event.data["local"] is True
    assert event.data["wa_id"] == CUSTOMER


async def test_expired_window_is_closed(graph: GraphClient, redis: aioredis.Redis, sandbox: Any) -> None:
    await refresh_window(redis, sandbox.phone_number_id, CUSTOMER, time.time() - 3600)
    sender = make_sender(graph, redis, clock=lambda: time.time() + 24 * 3600)  # a day later
    with pytest.raises(WindowClosed):
        await sender.send(CUSTOMER, payloads.text("late"))


async def test_fallback_template_goes_out_instead(graph: GraphClient, redis: aioredis.Redis,
                                                  admin: httpx.AsyncClient) -> None:
    sender = make_sender(graph, redis)
    reengage = payloads.template("reengage", "en", body=["Ana"])
    result = await sender.send(CUSTOMER, payloads.text("Your order shipped"), fallback_template=reengage,
                               category="utility")
    assert result.fallback_used and result.payload["type"] == "template"
    (message,) = await outbox(admin, CUSTOMER)
    assert message["wamid"] == result.wamid and message["type"] == "template"
    assert message["payload"]["template"]["name"] == "reengage"
    (event,) = await recorded(redis)
    assert event.type == events.MESSAGE_OUTBOUND and event.data["payload"]["template"]["name"] == "reengage"
    assert event.data["fallback"] is True


async def test_templates_need_no_window(graph: GraphClient, redis: aioredis.Redis, admin: httpx.AsyncClient) -> None:
    result = await make_sender(graph, redis).send(CUSTOMER, payloads.template("hello_world", "en_US"),
                                                  purpose=Purpose.TRANSACTIONAL, category="utility")
    assert [m["wamid"] for m in await outbox(admin, CUSTOMER)] == [result.wamid]


async def test_opted_out_contact_gets_no_marketing(graph: GraphClient, redis: aioredis.Redis,
                                                   admin: httpx.AsyncClient, sandbox: Any) -> None:
    batcher = RedisBatcher(redis)
    sender = make_sender(graph, batcher, consent=RedisConsent(batcher))
    await mark_opted_out(redis, CUSTOMER, source="stop_keyword")
    sale = payloads.template("spring_sale", "en", body={"first_name": "Ana", "discount": "20%"})
    with pytest.raises(ConsentRefused):
        await sender.send(CUSTOMER, sale, purpose=Purpose.CAMPAIGN, category="marketing", by="campaign:c1")
    with pytest.raises(ConsentRefused):  # a campaign is refused whatever its category
        await sender.send(CUSTOMER, payloads.template("hello_world", "en_US"), purpose=Purpose.CAMPAIGN,
                          category="utility", by="campaign:c2")
    assert await outbox(admin, CUSTOMER) == []
    failed = await recorded(redis)
    assert [e.data["by"] for e in failed] == ["campaign:c1", "campaign:c2"]
    assert all(e.type == events.MESSAGE_FAILED and e.data["local"] for e in failed)
    # the customer's own conversation still gets answers
    await refresh_window(redis, sandbox.phone_number_id, CUSTOMER, time.time())
    await sender.send(CUSTOMER, payloads.text("Sure, here is your receipt"))
    assert len(await outbox(admin, CUSTOMER)) == 1
    # and other contacts get the campaign
    await sender.send("16505550000", sale, purpose=Purpose.CAMPAIGN, category="marketing")


async def test_permanent_error_is_typed_and_recorded(graph: GraphClient, redis: aioredis.Redis,
                                                     admin: httpx.AsyncClient) -> None:
    sender = make_sender(graph, redis)
    with pytest.raises(TemplateError) as caught:
        await sender.send(CUSTOMER, payloads.template("no_such_template", "en"), category="utility",
                          by="campaign:c9", callback_data="c9:16505551234")
    error = caught.value
    assert error.code == 132001 and not error.local and error.title
    assert error.http_status == 404 and getattr(error, "attempts") == 1  # not retried
    (event,) = await recorded(redis)
    assert event.type == events.MESSAGE_FAILED
    assert event.data["errors"] == [error.to_dict()] and event.data["local"] is False
    assert event.data["biz_opaque_callback_data"] == "c9:16505551234" and event.data["by"] == "campaign:c9"
    assert await outbox(admin, CUSTOMER) == []


async def test_transient_5xx_is_retried(graph: GraphClient, redis: aioredis.Redis, admin: httpx.AsyncClient) -> None:
    await configure(admin, chaos={"send_5xx": 0.5})
    sender = make_sender(graph, redis, retry=RetryPolicy(max_attempts=12, base_delay=0.005, max_delay=0.02))
    recipients = [f"1555010{i:04d}" for i in range(40)]
    results = [await sender.send(to, payloads.template("hello_world", "en_US"), category="utility")
               for to in recipients]
    assert sum(r.attempts for r in results) > len(results)  # some 5xx happened and were retried
    sent = await outbox(admin)
    assert sorted(m["wamid"] for m in sent) == sorted(r.wamid for r in results)  # each exactly once
    assert {m["to"] for m in sent} == set(recipients)


async def test_5xx_gives_up_after_bounded_attempts(graph: GraphClient, redis: aioredis.Redis,
                                                   admin: httpx.AsyncClient) -> None:
    await configure(admin, chaos={"send_5xx": 1.0})
    sender = make_sender(graph, redis, retry=RetryPolicy(max_attempts=3, base_delay=0.005, max_delay=0.01))
    with pytest.raises(WhatsAppError) as caught:
        await sender.send(CUSTOMER, payloads.template("hello_world", "en_US"), category="utility")
    assert caught.value.is_transient and caught.value.code in (131000, 2)
    assert getattr(caught.value, "attempts") == 3
    assert [e.type for e in await recorded(redis)] == [events.MESSAGE_FAILED]


async def test_timeout_is_retried_at_most_once(sandbox: Any, redis: aioredis.Redis, admin: httpx.AsyncClient) -> None:
    await configure(admin, chaos={"send_timeout": 1.0}, chaos_timeout_ms=3000)
    graph = GraphClient.from_credentials(sandbox.access_token, sandbox.phone_number_id, base_url=sandbox.graph_url,
                                         version="", timeout=0.3)
    try:
        sender = make_sender(graph, redis)
        with pytest.raises(TransportError) as caught:
            await sender.send(CUSTOMER, payloads.template("hello_world", "en_US"), category="utility")
    finally:
        await graph.aclose()
    assert caught.value.ambiguous and getattr(caught.value, "attempts") == 2
    # The sandbox accepted both before stalling: a timeout is ambiguous, hence only one retry.
    assert len(await outbox(admin, CUSTOMER)) == 2

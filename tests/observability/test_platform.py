"""Observability of the real platform (devstack, the code of `make run`): a customer's message
moves the counters on the connector's /metrics, every service is ready, and the message's
trace id is on its log lines in the connector, the sender (the bot's reply) and handoff (the
agents' inbox), on its events, with the customer's number masked."""
from __future__ import annotations

import time
from typing import Dict, List, Tuple

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors import keys
from observability import trace
from tests.plugins.platform import Platform, with_services

pytest.importorskip("argon2")  # services env only: the bot env runs the log and adapter tests

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(v for (n, found), v in samples.items()
               if n == name and set(labels.items()) <= set(found))


def log_lines(platform: Platform, process: str, needle: str, timeout: float = 10.0) -> List[str]:
    (child,) = [c for c in platform.supervisor.children if c.name == process]
    assert child.log_path is not None
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in child.log_path.read_text(errors="replace").splitlines() if needle in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


@with_services
def test_a_message_moves_the_counters_and_every_service_is_ready(platform: Platform) -> None:
    metrics = f"{platform.rasa_url}/webhooks/whatsapp/metrics"
    before = scrape(metrics)
    replies = platform.new_customer("Kiran").ask("hi")
    assert replies
    after = scrape(metrics)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("parley_webhooks_total", result="accepted") >= 1
    assert moved("parley_inbound_messages_total", route="bot") >= 1
    assert moved("parley_sends_total", purpose="conversation", result="sent",
                 phone_number_id=platform.sandbox.phone_number_id) >= len(replies)
    assert moved("parley_http_requests_total", service="rasa", route="/webhooks/whatsapp/webhook",
                 method="POST", status="200") >= 1
    assert moved("parley_http_request_duration_seconds_count", route="/webhooks/whatsapp/webhook") >= 1
    assert ("parley_stream_length", (("stream", keys.INBOUND_STREAM),)) in after
    assert ("parley_stream_lag", (("group", keys.INBOUND_GROUP), ("stream", keys.INBOUND_STREAM))) in after

    for url in (f"{platform.rasa_url}/webhooks/whatsapp/readyz", f"{platform.handoff_url}/readyz",
                f"{platform.broadcasts_url}/readyz"):
        ready = httpx.get(url, timeout=30)
        assert ready.status_code == 200, (url, ready.text)
        assert all(check["ok"] for check in ready.json()["checks"].values()), (url, ready.text)
    assert set(httpx.get(f"{platform.handoff_url}/readyz", timeout=30).json()["checks"]) == \
        {"redis", "mongodb", "rasa"}
    for service, url in (("handoff", platform.handoff_url), ("broadcasts", platform.broadcasts_url)):
        samples = scrape(f"{url}/metrics")
        assert value(samples, "parley_http_requests_total", service=service, route="/readyz") >= 1
        assert value(samples, "parley_stream_length", stream=keys.EVENTS_STREAM) >= 1


@with_services
def test_a_messages_trace_id_follows_it_to_the_reply_and_to_the_agents_inbox(platform: Platform) -> None:
    customer = platform.new_customer("Farah")
    masked = customer.wa_id[:2] + "*" * (len(customer.wa_id) - 6) + customer.wa_id[-4:]
    wamid = customer.says("hi")
    customer.wait_for_turn(wamid)
    trace_id = trace.for_message(wamid)

    lines = log_lines(platform, "rasa", trace_id)
    assert any("connectors.routing" in line and "-> bot" in line for line in lines), lines
    assert any("connectors.sender" in line and "sent by bot" in line for line in lines), lines
    assert all(customer.wa_id not in line for line in lines) and any(masked in line for line in lines), lines
    received = customer.wait_for_event("message.received", predicate=lambda e: e["id"] == wamid)
    assert received["trace"] == trace_id
    assert any(e["trace"] == trace_id for e in customer.events("message.outbound"))

    # A human owns the chat: the next message goes to the agents' inbox with its own trace id.
    with httpx.Client(base_url=platform.handoff_url, headers=platform.admin_headers(), timeout=30) as handoff:
        opened = handoff.post("/api/tickets", json={"wa_id": customer.wa_id, "name": customer.name})
        assert opened.status_code in (200, 201), opened.text
        ticket = opened.json()["ticket"]["id"]
        try:
            second = customer.says("where is my order?")
            inbox = customer.wait_for_event("message.received", stream=keys.HANDOFF_INBOX_STREAM,
                                            predicate=lambda e: e["id"] == second)
            assert inbox["trace"] == trace.for_message(second) != trace_id
            handoff_lines = log_lines(platform, "handoff", inbox["trace"])
            assert any("handoff.consumers.live" in line and masked in line for line in handoff_lines), handoff_lines
            routed = log_lines(platform, "rasa", inbox["trace"])
            assert any("-> handoff" in line for line in routed), routed
        finally:
            assert handoff.post(f"/api/tickets/{ticket}/claim").status_code == 200
            assert handoff.post(f"/api/tickets/{ticket}/resolve").status_code == 200

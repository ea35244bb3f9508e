"""Parley's Prometheus metrics: every name in one place, and the scrape.

Counters and histograms are updated where things happen (HTTP adapter, webhook ingest,
inbound routing, the sender). Gauges of state that lives in Redis or MongoDB (stream lengths,
consumer-group lag, campaign progress, the handoff queue) are sampled when ``/metrics`` is
scraped, by the service's samplers (:func:`render`), each bounded by a timeout so a store
outage makes a scrape incomplete, never slow or failing.

A process without a web server (``python -m broadcasts worker``) serves its metrics with
:func:`serve`.

Labels never carry customer data: routes are templates (``api/tickets/<ticket_id:str>``), never
raw paths; numbers are the business's ``phone_number_id``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Iterable, Sequence

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest,
                               start_http_server)

log = logging.getLogger(__name__)

Sampler = Callable[[], Awaitable[None]]
SAMPLE_TIMEOUT_S = 2.0
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter("parley_http_requests", "HTTP requests answered",
                        ["service", "route", "method", "status"])
HTTP_DURATION = Histogram("parley_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["service", "route", "method"],
                          buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
WEBHOOKS = Counter("parley_webhooks", "Webhook POSTs by outcome (accepted = stored, answered 200)",
                   ["result"])
INBOUND_MESSAGES = Counter("parley_inbound_messages", "Inbound messages by where routing sent them",
                           ["route"])
INBOUND_DEAD_LETTERS = Counter("parley_inbound_dead_letters", "Inbound items parked after their retry budget")
SENDS = Counter("parley_sends", "Outbound sends by number, purpose and result (sent, refused locally, failed)",
                ["phone_number_id", "purpose", "result"])
SEND_DURATION = Histogram("parley_send_duration_seconds", "Sender.send time incl. pacing and retries",
                          ["purpose"], buckets=(.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))
STREAM_LENGTH = Gauge("parley_stream_length", "Entries in a Redis stream", ["stream"])
STREAM_LAG = Gauge("parley_stream_lag", "Entries a consumer group has not been delivered yet", ["stream", "group"])
STREAM_PENDING = Gauge("parley_stream_pending", "Entries delivered to a consumer group, not yet acknowledged",
                       ["stream", "group"])
CAMPAIGN_RECIPIENTS = Gauge("parley_campaign_recipients", "Recipients of a running or paused campaign per stage",
                            ["campaign", "stage"])
HANDOFF_TICKETS = Gauge("parley_handoff_tickets", "Open handoff tickets (queued, assigned)", ["status"])
SAMPLER_ERRORS = Counter("parley_metrics_sampler_errors", "Scrape-time samplers that failed or timed out",
                         ["sampler"])


async def render(samplers: Iterable[Sampler] = ()) -> bytes:
    """Run the samplers (concurrently, each bounded), then the exposition text of every metric."""
    await asyncio.gather(*(_sample(s) for s in samplers))
    return generate_latest(REGISTRY)


async def _sample(sampler: Sampler) -> None:
    name = getattr(sampler, "__name__", type(sampler).__name__)
    try:
        await asyncio.wait_for(sampler(), SAMPLE_TIMEOUT_S)
    except Exception as exc:  # a store is down: this scrape lacks these gauges, the rest is served
        SAMPLER_ERRORS.labels(name).inc()
        log.debug("metrics sampler %s failed: %r", name, exc)


def serve(port: int, host: str = "127.0.0.1") -> Callable[[], None]:
    """Serve this process's metrics on ``http://host:port/metrics`` from a thread (prometheus_client's
    own server: no samplers, so counters and histograms only); returns the function that stops it.
    Raises OSError when the port cannot be bound."""
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


def stream_sampler(redis: Any, streams: Callable[[], Sequence[str]]) -> Sampler:
    """Length of each stream, and lag + pending of each of its consumer groups (one round trip)."""

    async def streams_sampler() -> None:
        names = list(streams())
        pipe = redis.pipeline(transaction=False)
        for name in names:
            pipe.xlen(name)
            pipe.xinfo_groups(name)
        replies = await pipe.execute(raise_on_error=False)
        for index, name in enumerate(names):
            length, groups = replies[2 * index], replies[2 * index + 1]
            if isinstance(length, Exception):
                raise length
            STREAM_LENGTH.labels(name).set(length)
            for group in groups if isinstance(groups, list) else ():  # no such key: no groups yet
                label = _text(group.get("name"))
                STREAM_PENDING.labels(name, label).set(group.get("pending") or 0)
                if group.get("lag") is not None:  # Redis < 7, or not computable after deletions
                    STREAM_LAG.labels(name, label).set(group["lag"])

    return streams_sampler


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""Sender pacing against the real sandbox: throughput bucket, pair rate, conversation priority."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import redis.asyncio as aioredis

from connectors import payloads
from connectors.client import GraphClient
from connectors.errors import RetryPolicy
from connectors.ratelimit import RateLimits
from connectors.sender import Purpose, SendResult, Sender
from connectors.window import refresh_window

from .sandbox_support import configure, outbox


HELLO = payloads.template("hello_world", "en_US")


async def test_burst_of_1000_is_paced_to_80_per_second_and_nothing_is_lost(
        graph: GraphClient, redis: aioredis.Redis, admin: httpx.AsyncClient) -> None:
    await configure(admin, throughput_mps=80, status_delays_ms=[60000, 60000, 60000])
    sender = Sender(graph, redis, limits=RateLimits(mps=80), retry=RetryPolicy(max_attempts=8, base_delay=0.05))
    recipients = [f"1555020{i:04d}" for i in range(1000)]

    async def one(to: str) -> SendResult:
        return await sender.send(to, HELLO, purpose=Purpose.CAMPAIGN, category="utility", by="campaign:burst")

    start = time.monotonic()
    results = await asyncio.gather(*(one(to) for to in recipients))  # raises if any send failed
    elapsed = time.monotonic() - start
    rate = (len(results) - sender.limits.capacity) / elapsed
    assert 70 <= rate <= 80 * 1.03, f"{rate:.1f} msg/s"
    sent = await outbox(admin)
    # as the server saw it: the busiest second holds 80 plus the bucket's small burst, plus what
    # network and event-loop jitter shifts into it on this shared machine (unpaced: ~1,000)
    accepted = sorted(m["at"] for m in sent)
    busiest = max(sum(1 for t in accepted[i:i + 200] if t < start_at + 1.0) for i, start_at in enumerate(accepted))
    assert busiest <= 80 * 1.2, busiest
    retried = sum(r.attempts - 1 for r in results)
    assert retried <= 5, f"{retried} retries: the bucket should keep under the sandbox's limit"
    assert len(sent) == 1000
    assert sorted(m["wamid"] for m in sent) == sorted(r.wamid for r in results)
    assert sorted(m["to"] for m in sent) == recipients


async def test_pair_pacing_keeps_one_recipient_under_the_pair_limit(
        graph: GraphClient, redis: aioredis.Redis, admin: httpx.AsyncClient, sandbox: Any) -> None:
    await configure(admin, throughput_mps=0, pair_rate=True, pair_burst=5, pair_interval_ms=200)
    await refresh_window(redis, sandbox.phone_number_id, "15550300001", time.time())
    # our pacer a little stricter than the sandbox's (250 vs 200 ms), so network jitter can't
    # make a send arrive before the sandbox's slot opens
    sender = Sender(graph, redis, limits=RateLimits(mps=None, pair_interval=0.25, pair_burst=5),
                    retry=RetryPolicy(max_attempts=1))  # any 131056 would surface
    start = time.monotonic()
    results = await asyncio.gather(*(sender.send("15550300001", payloads.text(f"part {i}")) for i in range(10)))
    elapsed = time.monotonic() - start
    assert elapsed >= 5 * 0.25 * 0.95  # five beyond the burst, one per 250 ms
    assert all(r.attempts == 1 for r in results)
    assert len(await outbox(admin)) == 10


async def test_pair_rate_errors_are_retried_for_that_recipient(
        graph: GraphClient, redis: aioredis.Redis, admin: httpx.AsyncClient, sandbox: Any) -> None:
    await configure(admin, throughput_mps=0, pair_rate=True, pair_burst=3, pair_interval_ms=100)
    for wa_id in ("15550300002", "15550300003"):
        await refresh_window(redis, sandbox.phone_number_id, wa_id, time.time())
    # our own pacer off: the sandbox answers 131056 and the sender backs off 4^X * 0.05 s
    sender = Sender(graph, redis, limits=RateLimits(mps=None, pair_interval=None),
                    retry=RetryPolicy(max_attempts=6, pair_base=0.05))
    busy = await asyncio.gather(*(sender.send("15550300002", payloads.text(f"m{i}")) for i in range(6)))
    assert max(r.attempts for r in busy) > 1
    other = await sender.send("15550300003", payloads.text("hello"))
    assert other.attempts == 1  # other recipients are unaffected
    sent = await outbox(admin)
    assert sorted(m["wamid"] for m in sent) == sorted([r.wamid for r in busy] + [other.wamid])


async def test_conversations_are_not_starved_by_a_campaign(
        graph: GraphClient, redis: aioredis.Redis, admin: httpx.AsyncClient, sandbox: Any) -> None:
    await configure(admin, throughput_mps=0, status_delays_ms=[60000, 60000, 60000])
    sender = Sender(graph, redis, limits=RateLimits(mps=50), max_concurrency=64)  # 48 campaign slots
    campaign = [asyncio.ensure_future(sender.send(f"1555040{i:04d}", HELLO, purpose=Purpose.CAMPAIGN,
                                                  category="utility")) for i in range(150)]  # ~3 s of tokens
    await asyncio.sleep(0.4)
    customers = [f"1555050{i:04d}" for i in range(5)]
    for wa_id in customers:
        await refresh_window(redis, sandbox.phone_number_id, wa_id, time.time())
    backlog = sum(1 for task in campaign if not task.done())
    assert backlog > 100, "the test needs a campaign backlog when the replies are sent"

    submitted = time.time()
    started = time.monotonic()
    replies = await asyncio.gather(*(sender.send(wa_id, payloads.text("On it!"), purpose=Purpose.CONVERSATION)
                                     for wa_id in customers))
    elapsed = time.monotonic() - started
    results = await asyncio.gather(*campaign)
    assert len({r.wamid for r in results}) == 150
    sent = await outbox(admin)
    assert len(sent) == 155
    # Counted in messages, not seconds (the 2 shared cores make wall-clock bounds flaky): how
    # many campaign messages reached the sandbox after the replies were submitted and before
    # the last reply did. With the priority: only those already holding a token (at most the
    # bucket's 3.5 plus a few in flight). Without it: the 48 campaign slots' reservations
    # (~48) or the whole backlog (~100).
    reply_ids = {r.wamid for r in replies}
    last_reply_at = max(m["at"] for m in sent if m["wamid"] in reply_ids)
    overtaking = [m for m in sent if m["wamid"] not in reply_ids and submitted <= m["at"] <= last_reply_at]
    assert len(overtaking) <= 10, (len(overtaking), elapsed)
    # and in time: five reserved tokens at 50/s (~0.1 s), far below the backlog's ~2.5 s
    assert elapsed < 1.5, elapsed

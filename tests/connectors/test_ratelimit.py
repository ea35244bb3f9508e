"""Redis token bucket and pair pacing, against a real Redis."""
from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from connectors import keys
from connectors.ratelimit import PairPacer, RateLimits, RedisBatcher, TokenBucket, number_bucket


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.connection_pool.disconnect()


async def test_reserve_paces_at_the_rate(redis: aioredis.Redis) -> None:
    bucket = TokenBucket(redis, "t:bucket", rate=1, capacity=5)  # slow: refill during the test is noise
    waits = [await bucket.reserve() for _ in range(25)]
    assert waits[:5] == [0.0] * 5  # the burst
    assert waits[-1] == pytest.approx(20.0, abs=0.3)  # 20 tokens of debt at 1/s
    assert all(b >= a for a, b in zip(waits[5:], waits[6:]))  # each later reservation waits longer


async def test_reserve_is_atomic_across_clients(redis_url: str) -> None:
    clients = [aioredis.from_url(redis_url) for _ in range(4)]
    try:
        buckets = [TokenBucket(c, "t:shared", rate=1, capacity=1) for c in clients]
        waits = await asyncio.gather(*(b.reserve() for b in buckets for _ in range(10)))
        # 40 reservations, 1 free: each got its own slot, one second apart, up to 39 s ahead
        slots = sorted(round(w) for w in waits)
        assert slots == list(range(40))
    finally:
        for c in clients:
            await c.connection_pool.disconnect()


async def test_try_take_leaves_the_floor_and_waits_out_debt(redis: aioredis.Redis) -> None:
    bucket = TokenBucket(redis, "t:floor", rate=1, capacity=3)
    assert await bucket.try_take(floor=1) == 0.0
    assert await bucket.try_take(floor=1) == 0.0
    wait = await bucket.try_take(floor=1)  # one token left: the floor keeps it
    assert wait == pytest.approx(1.0, abs=0.2)
    assert await bucket.reserve() == 0.0  # a reservation may take the standing token
    assert await bucket.reserve() == pytest.approx(1.0, abs=0.2)  # and go into debt
    assert await bucket.try_take(floor=1) == pytest.approx(3.0, abs=0.2)  # try waits out debt + floor


async def test_take_up_to_grants_what_is_above_the_floor(redis: aioredis.Redis) -> None:
    bucket = TokenBucket(redis, "t:upto", rate=1, capacity=6)
    granted, wait = await bucket.take_up_to(100, floor=1)
    assert (granted, wait) == (5, 0.0)
    granted, wait = await bucket.take_up_to(100, floor=1)
    assert granted == 0 and wait == pytest.approx(1.0, abs=0.2)


async def test_measured_rate_with_sleeping_callers(redis: aioredis.Redis) -> None:
    bucket = TokenBucket(RedisBatcher(redis), "t:measured", rate=200, capacity=2)
    sent = []

    async def one() -> None:
        wait = await bucket.reserve()
        await asyncio.sleep(wait)
        sent.append(time.monotonic())

    start = time.monotonic()
    await asyncio.gather(*(one() for _ in range(202)))
    elapsed = max(sent) - start
    assert 0.95 <= elapsed <= 1.6  # 200 beyond the burst at 200/s (unpaced: a few ms)


async def test_number_bucket_uses_keys_and_expires(redis: aioredis.Redis) -> None:
    limits = RateLimits(mps=80)
    bucket = number_bucket(redis, "100000000000001", limits)
    assert bucket is not None and bucket.key == keys.rate_bucket("100000000000001")
    await bucket.reserve()
    assert 0 < await redis.ttl(bucket.key) <= 62
    assert number_bucket(redis, "1", RateLimits(mps=None)) is None
    with pytest.raises(ValueError):
        RateLimits(mps=0)


async def test_pair_pacer_burst_then_interval(redis: aioredis.Redis) -> None:
    pacer = PairPacer(redis, "100000000000001", interval=6.0, burst=45)
    waits = [await pacer.reserve("16505551234") for _ in range(47)]
    assert waits[:45] == [0.0] * 45
    assert waits[45] == pytest.approx(6.0, abs=0.05) and waits[46] == pytest.approx(12.0, abs=0.05)
    assert await pacer.reserve("16505550000") == 0.0  # other recipients are unaffected
    assert await redis.exists(keys.pair_rate("100000000000001", "16505551234"))


async def test_batcher_groups_commands_and_keeps_errors_per_command(redis: aioredis.Redis) -> None:
    batcher = RedisBatcher(redis)
    await redis.set("t:a", "1")
    await redis.lpush("t:list", "x")
    # 500 concurrent commands: more than redis-py 8's default pool of 100 connections would allow
    results = await asyncio.gather(*(batcher.get("t:a") for _ in range(500)), batcher.get("t:list"),
                                   return_exceptions=True)
    assert results[:500] == [b"1"] * 500
    assert isinstance(results[500], Exception)  # WRONGTYPE, for that command only
    assert len(redis.connection_pool._in_use_connections) + len(redis.connection_pool._available_connections) <= 2
    script_bucket = TokenBucket(batcher, "t:batched", rate=10, capacity=1)
    await redis.script_flush()  # the script is loaded again on NOSCRIPT
    assert await script_bucket.reserve() == 0.0
    assert await redis.exists("t:batched")
    await batcher.aclose()


async def test_admission_batches_window_pair_and_bucket(redis: aioredis.Redis) -> None:
    from connectors.ratelimit import CLOSED, GO, PAIR_THEN_BUCKET, Admission
    from connectors.window import refresh_window

    now = time.time()
    # a bucket that barely refills, so its level shows exactly what was taken
    admission = Admission(redis, "p1", RateLimits(mps=0.001, burst=50, pair_interval=1.0, pair_burst=2),
                          clock=time.time)
    await refresh_window(redis, "p1", "open", now)
    results = await asyncio.gather(
        admission.admit("closed", check_window=True),
        *(admission.admit("open", check_window=True) for _ in range(3)),
        admission.admit("closed", check_window=False, bucket=False),
    )
    assert results[0] == (CLOSED, 0.0)  # nothing taken for a closed window
    assert results[1] == (GO, 0.0) and results[2] == (GO, 0.0)  # within the pair burst of 2
    assert results[3][0] == PAIR_THEN_BUCKET and results[3][1] == pytest.approx(1.0, abs=0.05)
    assert results[4] == (GO, 0.0)
    tokens = float(await redis.hget(keys.rate_bucket("p1"), "tokens"))
    assert tokens == pytest.approx(48, abs=0.01)  # two bucket tokens taken: the GO sends that asked for one
    assert await redis.exists(keys.pair_rate("p1", "closed"))  # the template-style send took a pair slot
    await admission.aclose()

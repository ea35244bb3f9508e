"""The pieces the sender is built of that need no sandbox: priority gate, window, consent."""
from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, List

import pytest
import redis.asyncio as aioredis

from connectors import keys
from connectors.consent import AllowAll, RedisConsent, mark_opted_in, mark_opted_out
from connectors.errors import InvalidRequest
from connectors.sender import PriorityGate, wa_id_of
from connectors.window import WINDOW_SECONDS, refresh_window, window_expires_at, window_open


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.connection_pool.disconnect()


async def test_gate_reserves_slots_and_serves_urgent_first() -> None:
    gate = PriorityGate(limit=4, reserved=1)
    for _ in range(3):
        await gate.acquire(False)
    order: List[str] = []

    async def take(name: str, urgent: bool) -> None:
        await gate.acquire(urgent)
        order.append(name)

    low = asyncio.ensure_future(take("low", False))
    await asyncio.sleep(0)
    assert not low.done()  # campaigns may not use the reserved slot
    await take("urgent-1", True)  # the reserved slot is free for a conversation at once
    queued = [asyncio.ensure_future(take("urgent-2", True)), asyncio.ensure_future(take("urgent-3", True))]
    await asyncio.sleep(0)
    gate.release(False)
    gate.release(False)
    await asyncio.sleep(0)
    assert order == ["urgent-1", "urgent-2", "urgent-3"]  # freed slots went to the waiting conversations
    gate.release(True)
    await asyncio.sleep(0)
    assert order[-1] == "low" and gate.active == 4 and gate.low_active == 2
    await asyncio.gather(low, *queued)


async def test_gate_cancelled_waiter_gives_back_nothing() -> None:
    gate = PriorityGate(limit=1, reserved=0)
    await gate.acquire(True)
    waiter = asyncio.ensure_future(gate.acquire(True))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    gate.release(True)
    assert gate.active == 0
    await gate.acquire(False)
    assert gate.active == 1


def test_wa_id_of() -> None:
    assert wa_id_of("+1 (650) 555-1234") == "16505551234"
    with pytest.raises(InvalidRequest):
        wa_id_of("+")


async def test_window_refresh_open_and_expiry(redis: aioredis.Redis) -> None:
    now = time.time()
    assert not await window_open(redis, "p1", "u1")
    assert await refresh_window(redis, "p1", "u1", str(int(now) - 100))
    assert await redis.get(keys.window("p1", "u1")) == str(int(now) - 100).encode()
    assert await window_open(redis, "p1", "u1")
    assert await window_expires_at(redis, "p1", "u1") == int(now) - 100 + WINDOW_SECONDS
    assert 0 < await redis.ttl(keys.window("p1", "u1")) <= WINDOW_SECONDS - 99
    assert not await refresh_window(redis, "p1", "u1", int(now) - 500)  # older message: no step back
    assert await redis.get(keys.window("p1", "u1")) == str(int(now) - 100).encode()
    assert not await window_open(redis, "p1", "u1", now=now + WINDOW_SECONDS)
    assert not await window_open(redis, "p1", "u1", margin=WINDOW_SECONDS)
    assert not await refresh_window(redis, "p1", "u2", now - WINDOW_SECONDS - 5)  # already expired
    assert not await redis.exists(keys.window("p1", "u2"))


async def test_consent(redis: aioredis.Redis) -> None:
    consent = RedisConsent(redis)
    assert await consent.allows("u1", category="marketing")
    await mark_opted_out(redis, "u1", source="stop_keyword")
    assert not await consent.allows("u1", category="marketing")
    assert not await consent.allows("u1", category="utility", campaign=True)
    assert await consent.allows("u1", category="service")
    assert await consent.allows("u1", category="utility")
    await mark_opted_in(redis, "u1")
    assert await consent.allows("u1", category="marketing")
    assert await AllowAll().allows("u1", category="marketing", campaign=True)

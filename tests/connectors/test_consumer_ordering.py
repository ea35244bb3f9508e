"""Per-contact order across two consumer processes: 1,000 messages from 50 customers."""
from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import AsyncIterator, Dict, List

import pytest
import redis.asyncio as aioredis

from connectors import keys

from .inbound_support import text_body

ROOT = Path(__file__).resolve().parents[2]
HANDLED = "test:handled"

# One replica: a Consumer whose injected handler records (replica, wa_id, text) after a random
# pause, so two contacts' messages really overlap and a reordering would show.
WORKER = """
import asyncio, random, signal, sys
import redis.asyncio as aioredis
from connectors.consumer import Consumer, ConsumerOptions
from connectors.routing import Router

async def main(url, name):
    redis = aioredis.Redis.from_url(url)
    async def handler(bot_input):
        await asyncio.sleep(random.random() * 0.004)
        await redis.rpush("%s", f"{name} {bot_input.sender_id} {bot_input.text}")
    async def no_window(*args):
        return True
    options = ConsumerOptions(partitions=8, lease_ms=1500, tick_s=0.1, block_ms=100)
    consumer = Consumer(redis, Router(redis, handler, refresh_window=no_window), options, name=name)
    await consumer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await consumer.stop()

asyncio.run(main(sys.argv[1], sys.argv[2]))
""" % HANDLED


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose() if hasattr(client, "aclose") else await client.close()


def spawn(redis_url: str, name: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", WORKER, redis_url, name], cwd=ROOT, env=env)


@pytest.mark.slow
async def test_two_replicas_keep_each_contacts_order(redis: aioredis.Redis, redis_url: str) -> None:
    customers = [f"4477000{i:05d}" for i in range(50)]
    rng = random.Random(42)
    counters: Dict[str, int] = defaultdict(int)
    sequence = []
    for _ in range(1000):
        wa_id = rng.choice(customers)
        counters[wa_id] += 1
        sequence.append((wa_id, counters[wa_id]))
    procs = [spawn(redis_url, "r1")]
    try:
        for n, (wa_id, seq) in enumerate(sequence):
            if n == 400:
                procs.append(spawn(redis_url, "r2"))  # joins mid-stream: leases are rebalanced
            await redis.xadd(keys.INBOUND_STREAM, {"body": text_body(wa_id, f"wamid.{wa_id}.{seq}", str(seq))})
            if n % 100 == 99:
                await asyncio.sleep(0.2)
        deadline = time.monotonic() + 90
        while await redis.llen(HANDLED) < 1000 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything doubled would show up now
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=20)
    rows = [r.decode().split() for r in await redis.lrange(HANDLED, 0, -1)]
    seen: Dict[str, List[int]] = defaultdict(list)
    for _, wa_id, text in rows:
        seen[wa_id].append(int(text))
    assert len(rows) == 1000, f"{len(rows)} handled"
    for wa_id in customers:
        assert seen[wa_id] == list(range(1, counters[wa_id] + 1)), wa_id
    assert {replica for replica, _, _ in rows} == {"r1", "r2"}  # both replicas did work

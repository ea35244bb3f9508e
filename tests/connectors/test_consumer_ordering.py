"""Per-contact order across two consumer processes: 1,000 messages from 50 customers, each
answered through the Sender at the sandbox; order, losses and doubles counted in its outbox."""
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
from typing import Any, AsyncIterator, Dict, List

import pytest
import redis.asyncio as aioredis

from connectors import keys

from .inbound_support import text_body

ROOT = Path(__file__).resolve().parents[2]
HANDLED = "test:handled"

# One replica: a Consumer whose injected handler (standing in for Rasa) answers each message
# through the Sender after a random pause, so two contacts' messages really overlap and a
# reordering would show at the sandbox; it also records (replica, wa_id, text).
WORKER = """
import asyncio, random, signal, sys
import redis.asyncio as aioredis
from connectors import payloads
from connectors.client import GraphClient
from connectors.consumer import Consumer, ConsumerOptions
from connectors.ratelimit import RateLimits
from connectors.routing import Router
from connectors.sender import Sender

async def main(url, name, graph_url, version, token, phone_number_id):
    redis = aioredis.Redis.from_url(url)
    client = GraphClient.from_credentials(token, phone_number_id, base_url=graph_url, version=version)
    sender = Sender(client, redis, limits=RateLimits(mps=None, pair_interval=None))
    async def handler(bot_input):
        await asyncio.sleep(random.random() * 0.004)
        await sender.send(bot_input.sender_id, payloads.text(bot_input.text))
        await redis.rpush("%s", f"{name} {bot_input.sender_id} {bot_input.text}")
    options = ConsumerOptions(partitions=8, lease_ms=1500, tick_s=0.1, block_ms=100)
    consumer = Consumer(redis, Router(redis, handler), options, name=name)
    await consumer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await consumer.stop()
    await sender.aclose()
    await client.aclose()

asyncio.run(main(*sys.argv[1:]))
""" % HANDLED


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose() if hasattr(client, "aclose") else await client.close()


def spawn(redis_url: str, name: str, sandbox: Any) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", WORKER, redis_url, name, sandbox.url, sandbox.api_version,
                             sandbox.access_token, sandbox.phone_number_id], cwd=ROOT, env=env)


@pytest.mark.slow
async def test_two_replicas_keep_each_contacts_order(redis: aioredis.Redis, redis_url: str, sandbox: Any) -> None:
    sandbox.configure(throughput_mps=0, pair_rate=False, status_delays_ms=[60000, 60000, 60000])
    customers = [f"4477000{i:05d}" for i in range(50)]
    rng = random.Random(42)
    counters: Dict[str, int] = defaultdict(int)
    sequence = []
    for _ in range(1000):
        wa_id = rng.choice(customers)
        counters[wa_id] += 1
        sequence.append((wa_id, counters[wa_id]))
    now = int(time.time())  # fresh messages open each customer's window: replies are free-form
    procs = [spawn(redis_url, "r1", sandbox)]
    try:
        for n, (wa_id, seq) in enumerate(sequence):
            if n == 400:
                procs.append(spawn(redis_url, "r2", sandbox))  # joins mid-stream: leases are rebalanced
            await redis.xadd(keys.INBOUND_STREAM, {"body": text_body(wa_id, f"wamid.{wa_id}.{seq}", str(seq), ts=now)})
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
    # What the customers' phones show: every reply once, each customer's in order.
    outbox = sorted(sandbox.outbox(), key=lambda m: m["at"])
    assert len(outbox) == 1000, f"{len(outbox)} replies at the sandbox"
    shown: Dict[str, List[int]] = defaultdict(list)
    for message in outbox:
        shown[message["to"].lstrip("+")].append(int(message["payload"]["text"]["body"]))
    for wa_id in customers:
        assert shown[wa_id] == list(range(1, counters[wa_id] + 1)), wa_id

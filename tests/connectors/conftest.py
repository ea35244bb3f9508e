"""Fixtures of the connector tests that talk to the sandbox: a Redis client, the sandbox's
admin API and a ``GraphClient`` on it (a test module may override ``redis`` with its own)."""
from __future__ import annotations

from typing import Any, AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from connectors.client import GraphClient


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.connection_pool.disconnect()


@pytest.fixture
async def admin(sandbox: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's admin API (``/_sandbox/...``); see ``sandbox_support``."""
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        yield client


@pytest.fixture
async def graph(sandbox: Any) -> AsyncIterator[GraphClient]:
    client = GraphClient.from_credentials(sandbox.access_token, sandbox.phone_number_id, base_url=sandbox.graph_url,
                                          version="", waba_id=sandbox.waba_id, timeout=5.0)
    yield client
    await client.aclose()

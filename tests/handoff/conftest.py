"""Fixtures of the handoff tests: stores on both backends, a Redis client, the service."""
from __future__ import annotations

from typing import Any, AsyncIterator, Dict

import pytest
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorClient

from handoff.publisher import Publisher
from handoff.service import HandoffService
from handoff.store import (MemoryAgentStore, MemoryTicketStore, MemoryTranscriptStore,
                           MongoAgentStore, MongoTicketStore, MongoTranscriptStore,
                           ensure_indexes)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "mongo"])
async def stores(request: pytest.FixtureRequest, mongo_url: str,
                 mongo_db_name: str) -> AsyncIterator[Dict[str, Any]]:
    """{"tickets", "transcript", "agents"} on one backend (parametrised: both)."""
    if request.param == "memory":
        yield {"tickets": MemoryTicketStore(), "transcript": MemoryTranscriptStore(),
               "agents": MemoryAgentStore()}
        return
    client: AsyncIOMotorClient = AsyncIOMotorClient(mongo_url, tz_aware=True,
                                                    serverSelectionTimeoutMS=5000)
    db = client[mongo_db_name]
    await ensure_indexes(db)
    yield {"tickets": MongoTicketStore(db), "transcript": MongoTranscriptStore(db),
           "agents": MongoAgentStore(db)}
    await client.drop_database(mongo_db_name)
    client.close()


@pytest.fixture
def service(stores: Dict[str, Any], redis: aioredis.Redis) -> HandoffService:
    return HandoffService(stores["tickets"], Publisher(redis))

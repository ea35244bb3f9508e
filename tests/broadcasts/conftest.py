"""Fixtures of the broadcasts tests: a Context over the shared Redis and MongoDB fixtures."""
from __future__ import annotations

from typing import AsyncIterator

import pytest

from broadcasts.context import Context
from broadcasts.settings import Settings

from .harness import SECRET, Accounts


@pytest.fixture
def settings(redis_url: str, mongo_url: str, mongo_db_name: str) -> Settings:
    return Settings(redis_url=redis_url, mongo_url=mongo_url, mongo_db=mongo_db_name, consumer_name="test",
                    secret_key=SECRET, accounts_db=mongo_db_name)


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[Accounts]:
    """Handoff's accounts in the test database (the API's callers); see harness.Accounts."""
    import redis.asyncio as aioredis
    from motor.motor_asyncio import AsyncIOMotorClient
    redis, mongo = aioredis.from_url(settings.redis_url), AsyncIOMotorClient(settings.mongo_url, tz_aware=True)
    yield Accounts(redis, mongo[settings.accounts_db])
    mongo.close()
    await redis.aclose()


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[Context]:
    context = await Context.open(settings, build_sender=False)
    await context.ensure_indexes()
    yield context
    await context.mongo.drop_database(settings.mongo_db)
    await context.close()


async def _live(settings, sandbox_handle, workers: int, **overrides):
    from .harness import Pipeline, Sandbox, open_service, service_settings
    sandbox = Sandbox(sandbox_handle)
    ctx0 = await Context.open(settings, build_sender=False)
    pipeline = Pipeline(ctx0.redis, sandbox_handle.app_secret, sandbox_handle.verify_token)
    url = await pipeline.start()
    await sandbox.config(webhook_url=url, throughput_mps=0, pair_rate=False, status_delays_ms=[50, 100, 150],
                         read_probability=1.0)
    ctx, runtime = await open_service(service_settings(settings, sandbox_handle, **overrides), workers=workers)
    yield type("Live", (), {"ctx": ctx, "runtime": runtime, "sandbox": sandbox, "pipeline": pipeline,
                            "settings": ctx.settings})
    await runtime.stop()
    await pipeline.stop()
    await sandbox.close()
    await ctx.mongo.drop_database(settings.mongo_db)
    await ctx.close()
    await ctx0.close()


@pytest.fixture
async def live(settings, sandbox):
    """Sandbox -> inbound pipeline -> broadcasts service (consumer, one worker, scheduler)."""
    async for value in _live(settings, sandbox, 1):
        yield value


@pytest.fixture
async def live_no_workers(settings, sandbox):
    """The same without in-process workers (tests run worker processes). The send lease is
    long enough for a status to arrive through the pipeline even on a loaded machine, so only
    truly unsent records are re-sent (the at-least-once window, broadcasts/README.md)."""
    async for value in _live(settings, sandbox, 0, send_lease_seconds=20.0):
        yield value

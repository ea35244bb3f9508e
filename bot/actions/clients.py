"""The settings and the Redis and MongoDB clients shared by every action in this process.

rasa_sdk has no startup hook, so clients are opened on first use and then reused; tests (or
another host) inject their own with :func:`use` and drop them with :func:`reset`.
"""
from __future__ import annotations

from typing import Any, Optional

from .settings import Settings, get_settings

_settings: Optional[Settings] = None
_redis: Any = None
_mongo: Any = None


def settings() -> Settings:
    return _settings or get_settings()


def redis() -> Any:
    """An asyncio Redis client (redis-py 4.6) with short timeouts."""
    global _redis
    if _redis is None:
        from redis import asyncio as aioredis

        from connectors.redis_options import restart_tolerant

        s = settings()
        _redis = aioredis.from_url(s.redis_url, **restart_tolerant(s.io_timeout_s))
    return _redis


def mongo_db() -> Any:
    """The Parley database on a motor client that gives up quickly when MongoDB is down."""
    global _mongo
    s = settings()
    if _mongo is None:
        from motor.motor_asyncio import AsyncIOMotorClient

        ms = int(s.io_timeout_s * 1000)
        _mongo = AsyncIOMotorClient(s.mongodb_url, serverSelectionTimeoutMS=ms,
                                    connectTimeoutMS=ms, socketTimeoutMS=ms, tz_aware=True)
    return _mongo[s.mongodb_db]


def use(settings: Optional[Settings] = None, redis_client: Any = None,
        mongo_client: Any = None) -> None:
    """Inject settings and/or ready clients, e.g. from a test fixture."""
    global _settings, _redis, _mongo
    if settings is not None:
        _settings = settings
    if redis_client is not None:
        _redis = redis_client
    if mongo_client is not None:
        _mongo = mongo_client


async def reset() -> None:
    """Close and forget the shared clients and injected settings."""
    global _settings, _redis, _mongo
    if _redis is not None:
        await _redis.close()
        await _redis.connection_pool.disconnect()
    if _mongo is not None:
        _mongo.close()
    _settings = _redis = _mongo = None

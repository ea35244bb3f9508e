"""The webhook POST path (framework-free part): checks, group commit, durability."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from connectors import keys
from connectors.ingest import MAX_BODY_BYTES, GroupCommitAppender, receive
from connectors.signature import sign

from .inbound_support import SECRET, fixture_bytes, text_body


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose() if hasattr(client, "aclose") else await client.close()


async def stored(redis: aioredis.Redis) -> list:
    return [fields[b"body"] for _, fields in await redis.xrange(keys.INBOUND_STREAM)]


async def test_valid_post_stores_the_raw_bytes_then_answers_200(redis: aioredis.Redis) -> None:
    appender = GroupCommitAppender(redis)
    body = fixture_bytes("text_unicode")
    assert await receive(appender, SECRET, body, sign(SECRET, body)) == 200
    assert await stored(redis) == [body]


@pytest.mark.parametrize("header, status", [(None, 401), ("", 401), ("sha256=00", 403), ("garbage", 403)])
async def test_bad_signatures_enqueue_nothing(redis: aioredis.Redis, header: str, status: int) -> None:
    body = fixture_bytes("text")
    assert await receive(GroupCommitAppender(redis), SECRET, body, header) == status
    assert await stored(redis) == []


async def test_body_signed_with_another_secret_is_403(redis: aioredis.Redis) -> None:
    body = fixture_bytes("text")
    assert await receive(GroupCommitAppender(redis), SECRET, body, sign("other-app", body)) == 403
    assert await stored(redis) == []


async def test_too_large_is_413_before_anything_else(redis: aioredis.Redis) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert await receive(GroupCommitAppender(redis), SECRET, body, sign(SECRET, body)) == 413
    assert await receive(GroupCommitAppender(redis), SECRET, b"{}", sign(SECRET, b"{}"),
                         content_length=MAX_BODY_BYTES + 1) == 413
    assert await stored(redis) == []


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"a":1', b"{\xff}", b""])
async def test_signed_but_malformed_is_400(redis: aioredis.Redis, body: bytes) -> None:
    assert await receive(GroupCommitAppender(redis), SECRET, body, sign(SECRET, body)) == 400
    assert await stored(redis) == []


async def test_redis_down_is_503_never_200() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    body = fixture_bytes("text")
    assert await receive(GroupCommitAppender(dead, timeout_s=1.0), SECRET, body, sign(SECRET, body)) == 503


async def test_concurrent_requests_share_round_trips_and_each_waits_for_its_entry(redis: aioredis.Redis) -> None:
    appender = GroupCommitAppender(redis)
    bodies = [text_body("1555000%04d" % i, f"wamid.G{i}", f"m{i}") for i in range(300)]
    check = asyncio.Lock()

    async def post(body: bytes) -> int:
        status = await receive(appender, SECRET, body, sign(SECRET, body))
        async with check:
            assert body in await stored(redis)  # stored before the 200 is given
        return status

    statuses = await asyncio.gather(*(post(b) for b in bodies))
    assert statuses == [200] * 300
    assert sorted(await stored(redis)) == sorted(bodies)
    assert appender.appended == 300 and appender.batches <= 5  # grouped, not one round trip each

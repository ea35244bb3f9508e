"""The webhook POST path (framework-free part): checks, group commit, durability."""
from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from connectors import keys
from connectors.ingest import MAX_BODY_BYTES, GroupCommitAppender, receive
from connectors.signature import sign

from .inbound_support import SECRET, fixture, fixture_bytes, status_body, text_body


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose() if hasattr(client, "aclose") else await client.close()


async def stored(redis: aioredis.Redis, stream: str = keys.INBOUND_STREAM) -> list:
    return [fields[b"body"] for _, fields in await redis.xrange(stream)]


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


@pytest.mark.parametrize("body", [fixture_bytes("text"), status_body(("wamid.OUT1", "delivered"))])
async def test_redis_down_is_503_never_200(body: bytes) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    assert await receive(GroupCommitAppender(dead, timeout_s=1.0), SECRET, body, sign(SECRET, body)) == 503


async def test_concurrent_requests_share_round_trips_and_each_waits_for_its_entry(redis: aioredis.Redis) -> None:
    appender = GroupCommitAppender(redis)
    messages = [text_body("1555000%04d" % i, f"wamid.G{i}", f"m{i}") for i in range(150)]
    statuses = [status_body((f"wamid.OUT{i}", "read")) for i in range(150)]
    check = asyncio.Lock()

    async def post(body: bytes, stream: str) -> int:
        status = await receive(appender, SECRET, body, sign(SECRET, body))
        async with check:
            assert body in await stored(redis, stream)  # stored before the 200 is given
        return status

    answers = await asyncio.gather(*(post(b, keys.INBOUND_STREAM) for b in messages),
                                   *(post(b, keys.INBOUND_STATUS_STREAM) for b in statuses))
    assert answers == [200] * 300
    assert sorted(await stored(redis)) == sorted(messages)
    assert sorted(await stored(redis, keys.INBOUND_STATUS_STREAM)) == sorted(statuses)
    # grouped, both kinds in the same round trips, not one round trip each
    assert appender.appended == 300 and appender.batches <= 5


def _with_value(**extra: object) -> bytes:
    """A status-only body whose one change value also carries ``extra``."""
    doc = json.loads(status_body(("wamid.OUT1", "sent")))
    doc["entry"][0]["changes"][0]["value"].update(extra)
    return json.dumps(doc).encode()


def _with_change(change: object) -> bytes:
    doc = json.loads(status_body(("wamid.OUT1", "sent")))
    doc["entry"][0]["changes"].append(change)
    return json.dumps(doc).encode()


STATUS_CHANGE = fixture("batch_3_messages_4_statuses")["entry"][1]["changes"][1]  # 4 statuses, pricing, errors
STATUS_ONLY = {
    "one status": status_body(("wamid.OUT1", "sent")),
    "four statuses with pricing and a failure": json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "2", "changes": [STATUS_CHANGE]}]}).encode(),
    "two status changes": _with_change(STATUS_CHANGE),
}
NOT_STATUS_ONLY = {
    "text": fixture_bytes("text"),
    "messages and statuses": fixture_bytes("batch_3_messages_4_statuses"),
    "echo": fixture_bytes("smb_message_echoes"),
    "value errors beside statuses": _with_value(errors=[{"code": 131000}]),
    "empty messages list beside statuses": _with_value(messages=[]),
    "contacts beside statuses": _with_value(contacts=[{"wa_id": "1"}]),
    "another field beside statuses": _with_change({"field": "account_update", "value": {"event": "x"}}),
    "statuses under another field": json.dumps(
        {"entry": [{"changes": [{"field": "smb_message_echoes", "value": {"statuses": [{"id": "w"}]}}]}]}).encode(),
    "empty statuses": _with_value(statuses=[]),
    "a status that is not an object": _with_value(statuses=["sent"]),
    "statuses not a list": _with_value(statuses={"id": "w"}),
    "no changes": b'{"entry":[{"id":"1","changes":[]}],"statuses":[]}',
    "entry not a list": b'{"entry":{"changes":[]},"statuses":1}',
    "invalid JSON that looks like an object": b'{"statuses": [}',
    "statuses only, but too large to decode on the POST path": status_body(
        *((f"wamid.OUT{i}", "delivered") for i in range(800))),
}


@pytest.mark.parametrize("name", sorted(STATUS_ONLY))
async def test_status_only_bodies_go_to_the_status_stream(redis: aioredis.Redis, name: str) -> None:
    body = STATUS_ONLY[name]
    assert await receive(GroupCommitAppender(redis), SECRET, body, sign(SECRET, body)) == 200
    assert (await stored(redis), await stored(redis, keys.INBOUND_STATUS_STREAM)) == ([], [body])


@pytest.mark.parametrize("name", sorted(NOT_STATUS_ONLY))
async def test_every_other_body_stays_in_the_message_stream(redis: aioredis.Redis, name: str) -> None:
    body = NOT_STATUS_ONLY[name]
    assert await receive(GroupCommitAppender(redis), SECRET, body, sign(SECRET, body)) == 200
    assert (await stored(redis), await stored(redis, keys.INBOUND_STATUS_STREAM)) == ([body], [])

"""Forged and replayed webhooks (both environments): the signature is checked over the raw
bytes, every forgery is refused before anything is stored, and a validly signed webhook
replayed N times is processed once. Also: signed bodies the parser finds odd (lone surrogate
escapes, absurd numbers) never stall the inbound pipeline."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any, AsyncIterator, Awaitable, Callable, List

import pytest
import redis.asyncio as aioredis

from connectors import keys
from connectors.consumer import Consumer, ConsumerOptions
from connectors.ingest import GroupCommitAppender, receive
from connectors.routing import Router
from connectors.signature import SignatureCheck, check_signature, sign

SECRET = "s3cr3t-app-secret"
FAST = ConsumerOptions(partitions=2, lease_ms=1000, tick_s=0.05, block_ms=50, max_attempts=2, retry_base_s=0.01)


def text_body(wamid: str, text: str, wa_id: str = "15551230000", *, ascii_only: bool = True) -> bytes:
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"phone_number_id": "100000000000001"},
            "contacts": [{"profile": {"name": "Zoë"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": "1749416383", "type": "text",
                          "text": {"body": text}}]}}]}]}
    return json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


BODY = text_body("wamid.SIG1", "héllo 😀 <b>")


def forgeries(body: bytes) -> List[Any]:
    good = sign(SECRET, body)
    digest = good[len("sha256="):]
    reserialised = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    assert reserialised != body
    return [
        ("wrong secret", sign("not-the-secret", body), SignatureCheck.INVALID),
        ("truncated hex", good[:-2], SignatureCheck.INVALID),
        ("half the hex", good[: len("sha256=") + 32], SignatureCheck.INVALID),
        ("missing prefix", digest, SignatureCheck.INVALID),
        ("sha1 prefix", "sha1=" + digest, SignatureCheck.INVALID),
        ("sha1 of body", "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest(), SignatureCheck.INVALID),
        ("over re-serialised JSON", sign(SECRET, reserialised), SignatureCheck.INVALID),
        ("over body with extra space", sign(SECRET, body + b" "), SignatureCheck.INVALID),
        ("empty secret", sign("", body), SignatureCheck.INVALID),
        ("prefix only", "sha256=", SignatureCheck.INVALID),
        ("non-ascii junk", "sha256=ü" + digest[1:], SignatureCheck.INVALID),
        ("undecodable header bytes", b"sha256=\xff\xfe".decode("utf-8", "surrogateescape"), SignatureCheck.INVALID),
        ("empty", "", SignatureCheck.MISSING),
        ("absent", None, SignatureCheck.MISSING),
    ]


@pytest.mark.parametrize("name,header,expected", forgeries(BODY), ids=[f[0] for f in forgeries(BODY)])
def test_forged_signatures_are_refused(name: str, header: Any, expected: SignatureCheck) -> None:
    assert check_signature(SECRET, BODY, header) is expected


def test_valid_forms_pass() -> None:
    good = sign(SECRET, BODY)
    # Meta sends lowercase hex; hex digits are case-insensitive, so uppercase is the same MAC.
    for header in (good, good.upper(), "SHA256=" + good[7:], " " + good + " "):
        assert check_signature(SECRET, BODY, header) is SignatureCheck.VALID, header


def test_unicode_escapes_pass_only_over_raw_bytes() -> None:
    escaped = text_body("wamid.U1", "caf\u00e9 \u2603 \U0001F600")  # \\u escapes, like Meta
    raw_utf8 = text_body("wamid.U1", "caf\u00e9 \u2603 \U0001F600", ascii_only=False)
    assert b"\\u00e9" in escaped and json.loads(escaped) == json.loads(raw_utf8)
    assert check_signature(SECRET, escaped, sign(SECRET, escaped)) is SignatureCheck.VALID
    # The same document re-encoded (what a framework's parsed JSON would give) does not verify.
    assert check_signature(SECRET, escaped, sign(SECRET, raw_utf8)) is SignatureCheck.INVALID


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await (client.aclose() if hasattr(client, "aclose") else client.close())


async def test_forged_requests_store_nothing(redis: aioredis.Redis) -> None:
    appender = GroupCommitAppender(redis)
    for name, header, expected in forgeries(BODY):
        assert await receive(appender, SECRET, BODY, header) == expected.value, name
    assert await redis.xlen(keys.INBOUND_STREAM) == 0
    assert await receive(appender, SECRET, BODY, sign(SECRET, BODY)) == 200
    assert await redis.xlen(keys.INBOUND_STREAM) == 1


class Recorder:
    def __init__(self) -> None:
        self.inputs: List[Any] = []

    async def __call__(self, bot_input: Any) -> None:
        self.inputs.append(bot_input)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def drained(redis: aioredis.Redis) -> bool:
    if await redis.xlen(keys.INBOUND_STREAM):
        return False
    for i in range(FAST.partitions):
        if await redis.xlen(keys.inbound_partition(i)):
            return False
    return True


@pytest.fixture
async def pipeline(redis: aioredis.Redis) -> AsyncIterator[Any]:
    recorder = Recorder()
    consumer = Consumer(redis, Router(redis, recorder), FAST)
    await consumer.start()
    yield recorder, GroupCommitAppender(redis)
    await consumer.stop()


async def test_replayed_webhook_is_processed_once(redis: aioredis.Redis, pipeline: Any) -> None:
    recorder, appender = pipeline
    header = sign(SECRET, BODY)
    statuses = await asyncio.gather(*(receive(appender, SECRET, BODY, header) for _ in range(10)))
    assert statuses == [200] * 10  # each replay is acknowledged (Meta would retry otherwise) ...
    for _ in range(5):  # ... and later replays too
        assert await receive(appender, SECRET, BODY, header) == 200
    await eventually(lambda: drained(redis))
    await asyncio.sleep(0.2)
    assert [i.message_id for i in recorder.inputs] == ["wamid.SIG1"]  # ... but it is processed once
    received = [f for _, f in await redis.xrange(keys.EVENTS_STREAM) if f[b"type"] == b"message.received"]
    assert len(received) == 1


@pytest.mark.parametrize("poison", [
    text_body("wamid.LONE", "\ud800 lone surrogate"),
    text_body("wamid.\udfff", "ok", wa_id="1555\ud83d"),
    b"{\"entry\":[{\"time\":1e400,\"changes\":[{\"field\":\"account_update\",\"value\":{\"x\":\"\\ud800\"}}]}]}",
    b"{\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"w\",\"status\":\"\\udc00\","
    b"\"timestamp\":1e999}]}}]}]}",
    b"{\"a\":" + b"[" * 3000 + b"]" * 3000 + b"}",
], ids=["lone-surrogate-text", "surrogate-ids", "inf-time-surrogate-value", "surrogate-status", "deep-nesting"])
async def test_odd_signed_bodies_do_not_stall_the_pipeline(redis: aioredis.Redis, pipeline: Any,
                                                           poison: bytes) -> None:
    recorder, appender = pipeline
    assert await receive(appender, SECRET, poison, sign(SECRET, poison)) == 200
    after = text_body("wamid.AFTER", "still alive")
    assert await receive(appender, SECRET, after, sign(SECRET, after)) == 200
    await eventually(lambda: drained(redis))
    await eventually(lambda: _has(recorder, "wamid.AFTER"))


async def _has(recorder: Recorder, wamid: str) -> bool:
    return any(i.message_id == wamid for i in recorder.inputs)

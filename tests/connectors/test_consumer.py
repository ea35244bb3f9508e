"""The inbound consumer end to end over real Redis, with a recording handler instead of Rasa."""
from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Awaitable, Callable, List

import pytest
import redis.asyncio as aioredis

from connectors import events, keys
from connectors.consumer import Consumer, ConsumerOptions
from connectors.ingest import GroupCommitAppender, receive
from connectors.ownership import Owner, Ownership
from connectors.partitions import HOLDER, ensure_group, partition_of
from connectors.routing import Router
from connectors.signature import sign

from .inbound_support import SECRET, Recorder, events_of, fixture_bytes, status_body, text_body

FAST = ConsumerOptions(partitions=4, lease_ms=1000, tick_s=0.05, block_ms=50, max_attempts=3, retry_base_s=0.01)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose() if hasattr(client, "aclose") else await client.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def post(redis: aioredis.Redis, *bodies: bytes) -> None:
    for body in bodies:
        await redis.xadd(keys.INBOUND_STREAM, {"body": body})


async def drained(redis: aioredis.Redis) -> bool:
    """Every raw entry fanned out and every partition entry acknowledged."""
    if await redis.xlen(keys.INBOUND_STREAM) or await redis.xlen(keys.INBOUND_STATUS_STREAM):
        return False
    for i in range(FAST.partitions):
        if await redis.xlen(keys.inbound_partition(i)):
            return False
    return True


@pytest.fixture
async def run(redis: aioredis.Redis) -> AsyncIterator[Callable[..., Awaitable[Consumer]]]:
    started: List[Consumer] = []

    async def start(handler: Recorder, **router_options: object) -> Consumer:
        consumer = Consumer(redis, Router(redis, handler, **router_options), FAST)  # type: ignore[arg-type]
        await consumer.start()
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        await consumer.stop()


async def test_same_webhook_five_times_reaches_the_bot_once(redis: aioredis.Redis, run) -> None:
    bot = Recorder()
    await run(bot)
    await post(redis, *[fixture_bytes("text")] * 5)
    await eventually(lambda: drained(redis))
    assert bot.texts == ["hi"]
    received = [e for e in await events_of(redis) if e.type == events.MESSAGE_RECEIVED]
    assert [e.id for e in received] == ["wamid.TEXT1"]
    # The fixture's timestamp is long past: it must not open a window now.
    assert not await redis.exists(keys.window("100000000000001", "16505551234"))


async def test_window_is_refreshed_for_a_fresh_message(redis: aioredis.Redis, run) -> None:
    await run(Recorder())
    now = int(time.time())
    await post(redis, text_body("15550001111", "wamid.W1", "hello", ts=now))
    await eventually(lambda: drained(redis))
    assert await redis.get(keys.window("100000000000001", "15550001111")) == str(now).encode()
    assert 86000 < await redis.ttl(keys.window("100000000000001", "15550001111")) <= 86400


async def test_one_post_with_three_messages_and_four_statuses(redis: aioredis.Redis, run) -> None:
    bot = Recorder()
    await run(bot)
    await post(redis, fixture_bytes("batch_3_messages_4_statuses"), fixture_bytes("batch_3_messages_4_statuses"))
    await eventually(lambda: drained(redis))
    assert sorted(bot.texts) == ["one", "three", "two"]
    assert [i.text for i in bot.inputs if i.sender_id == "16505551234"] == ["one", "three"]
    kinds = [e.type for e in await events_of(redis)]
    assert kinds.count(events.MESSAGE_RECEIVED) == 3
    for kind in (events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ, events.MESSAGE_FAILED):
        assert kinds.count(kind) == 1  # the second delivery was deduplicated by (wamid, status)


@pytest.mark.parametrize("name", ["unknown_type", "unsupported", "reaction", "interactive_missing", "system"])
async def test_unhandled_types_are_recorded_and_acknowledged(redis: aioredis.Redis, run, name: str) -> None:
    bot = Recorder()
    await run(bot)
    await post(redis, fixture_bytes(name), b'{"not": "a webhook"}', b'{broken')
    await eventually(lambda: drained(redis))
    assert bot.inputs == []
    found = await events_of(redis)
    assert [e.type for e in found].count(events.MESSAGE_RECEIVED) == 1
    assert events.WEBHOOK_MALFORMED in [e.type for e in found]


async def test_slash_text_is_neutralised_and_button_payload_drives_an_intent(redis: aioredis.Redis, run) -> None:
    bot = Recorder()
    await run(bot)
    await post(redis, fixture_bytes("text_slash"), fixture_bytes("interactive_button_reply"))
    await eventually(lambda: drained(redis))
    assert bot.texts == ["restart", "/affirm"]
    assert bot.inputs[1].metadata["title"] == "Yes"


async def test_human_owned_conversation_goes_to_the_handoff_inbox(redis: aioredis.Redis, run) -> None:
    bot = Recorder()
    await run(bot)
    await redis.hset(keys.ownership("16505551234"), mapping=Ownership(Owner.ASSIGNED, "agent-7", "t1").to_hash())
    await post(redis, fixture_bytes("text"))
    await eventually(lambda: drained(redis))
    assert bot.inputs == []
    inbox = await events_of(redis, keys.HANDOFF_INBOX_STREAM)
    assert [(e.type, e.id, e.data["text"]) for e in inbox] == [(events.MESSAGE_RECEIVED, "wamid.TEXT1", "hi")]


async def test_business_app_echo_silences_the_bot_unless_an_agent_owns_it(redis: aioredis.Redis, run) -> None:
    bot = Recorder()
    await run(bot, human_app_ttl_s=600)
    await post(redis, fixture_bytes("smb_message_echoes"), fixture_bytes("text"))
    await eventually(lambda: drained(redis))
    assert bot.inputs == [] and await redis.hget(keys.ownership("16505551234"), "owner") == b"human_app"
    assert 0 < await redis.ttl(keys.ownership("16505551234")) <= 600
    assert [e.type for e in await events_of(redis)].count(events.MESSAGE_ECHO) == 1
    assert len(await events_of(redis, keys.HANDOFF_INBOX_STREAM)) == 1

    await redis.delete(keys.ownership("16505551234"))
    await redis.hset(keys.ownership("16505551234"), mapping=Ownership(Owner.ASSIGNED, "agent-1").to_hash())
    echo2 = fixture_bytes("smb_message_echoes").replace(b"wamid.ECHO1", b"wamid.ECHO2")
    await post(redis, echo2)
    await eventually(lambda: drained(redis))
    assert await redis.hget(keys.ownership("16505551234"), "owner") == b"assigned"
    assert await redis.ttl(keys.ownership("16505551234")) == -1


async def test_dead_readers_pending_entry_is_reclaimed(redis: aioredis.Redis) -> None:
    bot = Recorder()
    survivor = Consumer(redis, Router(redis, bot), FAST, name="survivor")
    await survivor.ensure_groups()
    # A consumer reads the raw entry and dies before acknowledging it.
    await post(redis, fixture_bytes("text"))
    read = await redis.xreadgroup(keys.INBOUND_GROUP, "dead-replica", {keys.INBOUND_STREAM: ">"}, count=10)
    assert len(read[0][1]) == 1
    assert await survivor.read_once() == 0  # a new reader does not see it as new
    assert await survivor.reclaim_once(min_idle_ms=60_000) == 0  # not idle long enough: not stolen
    await asyncio.sleep(0.15)
    assert await survivor.reclaim_once(min_idle_ms=100) == 1
    await survivor.start()
    try:
        await eventually(lambda: drained(redis))
    finally:
        await survivor.stop()
    assert bot.texts == ["hi"]
    assert (await redis.xpending(keys.INBOUND_STREAM, keys.INBOUND_GROUP))["pending"] == 0


async def test_failed_processing_releases_the_claim_and_retries(redis: aioredis.Redis, run) -> None:
    bot = Recorder(fail_times=2)
    await run(bot)
    await post(redis, fixture_bytes("text"), fixture_bytes("text"))
    await eventually(lambda: drained(redis))
    assert bot.texts == ["hi"] and bot.calls == 3
    assert await redis.get(keys.seen_message("wamid.TEXT1")) == b"done"


async def test_processing_failing_past_the_budget_is_dead_lettered(redis: aioredis.Redis, run) -> None:
    bot = Recorder(fail_times=10)
    await run(bot)
    await post(redis, fixture_bytes("text"))
    await eventually(lambda: drained(redis))
    assert bot.inputs == [] and bot.calls == FAST.max_attempts
    assert await redis.xlen(keys.INBOUND_DEAD_STREAM) == 1
    assert events.MESSAGE_DEAD_LETTERED in [e.type for e in await events_of(redis)]
    assert await redis.get(keys.seen_message("wamid.TEXT1")) is None  # a replay may still be processed


async def test_crash_after_claim_resumes_the_same_entry(redis: aioredis.Redis, run) -> None:
    # Simulate a replica killed mid-processing: the claim holds the entry's token, entry unacked.
    consumer = Consumer(redis, Router(redis, Recorder()), FAST, name="a")
    await consumer.ensure_groups()
    await post(redis, fixture_bytes("text"))
    await consumer.read_once()
    index = partition_of("16505551234", FAST.partitions)
    assert await redis.xlen(keys.inbound_partition(index)) == 1
    await ensure_group(redis, keys.inbound_partition(index), keys.PARTITION_GROUP)
    (_, [(entry_id, _)]), = await redis.xreadgroup(keys.PARTITION_GROUP, HOLDER, {keys.inbound_partition(index): ">"})
    await redis.set(keys.seen_message("wamid.TEXT1"), f"p{index}-{entry_id.decode()}")
    bot = Recorder()
    await run(bot)
    await post(redis, fixture_bytes("text"))  # a Meta retry of the same message, behind it
    await eventually(lambda: drained(redis))
    assert bot.texts == ["hi"]


# Status-only bodies in their own raw stream (connectors.ingest.is_status_only) -------------------
async def webhooks(redis: aioredis.Redis, *bodies: bytes) -> None:
    """POST each body through the ingest path (signature, classification, group commit)."""
    appender = GroupCommitAppender(redis)
    statuses = await asyncio.gather(*(receive(appender, SECRET, body, sign(SECRET, body)) for body in bodies))
    assert statuses == [200] * len(bodies)


async def test_customer_message_overtakes_a_backlog_of_status_bodies(redis: aioredis.Redis) -> None:
    await webhooks(redis, *(status_body((f"wamid.OUT{i}", "delivered")) for i in range(2000)))
    consumer = Consumer(redis, Router(redis, Recorder()), FAST, name="fanout")
    await consumer.ensure_groups()
    for _ in range(3):  # the fan-out is busy with the backlog when the customer writes
        assert await consumer.read_once() == FAST.status_batch
    await webhooks(redis, text_body("15550001234", "wamid.IN1", "where is my order?"))
    assert await consumer.read_once() == 1  # the next read is the message, alone
    partition = keys.inbound_partition(partition_of("15550001234", FAST.partitions))
    assert await redis.xlen(partition) == 1
    delivered = [e for e in await events_of(redis) if e.type == events.MESSAGE_DELIVERED]
    assert len(delivered) == 3 * FAST.status_batch
    assert await redis.xlen(keys.INBOUND_STATUS_STREAM) == 2000 - 3 * FAST.status_batch
    while await consumer.read_once():  # then the backlog drains, nothing skipped
        pass
    assert [e.type for e in await events_of(redis)].count(events.MESSAGE_DELIVERED) == 2000
    assert await redis.xlen(keys.INBOUND_STATUS_STREAM) == 0 and await redis.xlen(partition) == 1


async def test_running_consumer_answers_a_message_long_before_the_status_backlog_ends(redis: aioredis.Redis,
                                                                                       run) -> None:
    await webhooks(redis, *(status_body((f"wamid.OUT{i}", "delivered")) for i in range(2000)))
    bot = Recorder()
    await run(bot)

    async def backlog_started() -> bool:
        return await redis.xlen(keys.INBOUND_STATUS_STREAM) < 2000

    await eventually(backlog_started)
    await webhooks(redis, text_body("15550001234", "wamid.IN1", "where is my order?"))
    await eventually(lambda: drained(redis), timeout=30)
    assert bot.texts == ["where is my order?"]
    kinds = [e.type for e in await events_of(redis)]
    assert kinds.count(events.MESSAGE_DELIVERED) == 2000
    # Its message.received came while most of the backlog was still waiting (a single FIFO: after all 2,000).
    assert kinds.index(events.MESSAGE_RECEIVED) < 1000


async def test_mixed_body_stays_in_the_message_stream_and_both_parts_are_handled(redis: aioredis.Redis,
                                                                                  run) -> None:
    await webhooks(redis, fixture_bytes("batch_3_messages_4_statuses"))
    assert (await redis.xlen(keys.INBOUND_STREAM), await redis.xlen(keys.INBOUND_STATUS_STREAM)) == (1, 0)
    bot = Recorder()
    await run(bot)
    await eventually(lambda: drained(redis))
    assert sorted(bot.texts) == ["one", "three", "two"]
    kinds = [e.type for e in await events_of(redis)]
    assert kinds.count(events.MESSAGE_RECEIVED) == 3
    for kind in (events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ, events.MESSAGE_FAILED):
        assert kinds.count(kind) == 1


async def test_dead_readers_pending_entries_of_both_streams_each_land_once(redis: aioredis.Redis, run) -> None:
    customers = [f"1555010{i:04d}" for i in range(30)]
    await webhooks(redis, *(text_body(wa_id, f"wamid.M{wa_id}", f"m{wa_id}") for wa_id in customers),
                   *(status_body((f"wamid.OUT{i}", "sent"), (f"wamid.OUT{i}", "delivered"), (f"wamid.OUT{i}", "read"))
                     for i in range(60)))
    await Consumer(redis, Router(redis, Recorder()), FAST).ensure_groups()
    # A fan-out reader takes entries of both streams and dies before fanning them out.
    read = await redis.xreadgroup(keys.INBOUND_GROUP, "dead-replica",
                                  {keys.INBOUND_STREAM: ">", keys.INBOUND_STATUS_STREAM: ">"}, count=15)
    assert [len(entries) for _, entries in read] == [15, 15]
    bot = Recorder()
    await run(bot)
    await eventually(lambda: drained(redis), timeout=15)
    assert sorted(bot.texts) == sorted(f"m{wa_id}" for wa_id in customers)
    found = await events_of(redis)
    received = sorted(e.id for e in found if e.type == events.MESSAGE_RECEIVED)
    assert received == sorted(f"wamid.M{wa_id}" for wa_id in customers)
    statuses = sorted(e.id for e in found if e.type in (events.MESSAGE_SENT, events.MESSAGE_DELIVERED,
                                                          events.MESSAGE_READ))
    assert statuses == sorted(f"wamid.OUT{i}:{s}" for i in range(60) for s in ("sent", "delivered", "read"))
    for stream in (keys.INBOUND_STREAM, keys.INBOUND_STATUS_STREAM):
        assert (await redis.xpending(stream, keys.INBOUND_GROUP))["pending"] == 0

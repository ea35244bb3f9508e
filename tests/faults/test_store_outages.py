"""Redis and MongoDB go away in the middle of traffic and come back.

Redis (AOF, appendfsync everysec) is stopped cleanly and started again from its AOF: webhooks
arriving meanwhile get 503 and the sandbox retries them (as Meta does), so no inbound message may
be lost, and conversations continue.

MongoDB is stopped for 60 s (ARCHITECTURE.md §3: "a Mongo outage delays records without losing
them or stopping conversations"): the bot keeps answering (order lookups may apologise), the
handoff transcript writer keeps its lines in Redis until MongoDB returns, then writes every one.
"""
from __future__ import annotations

import signal
import time
from typing import Any, Dict, List, Set

import pytest

from connectors import keys
from tests.faults.conftest import FaultPlatform
from tests.faults.traffic import Traffic, continues
from tests.plugins.platform import reply_text

pytestmark = pytest.mark.slow



def test_redis_restart_mid_traffic_loses_no_inbound_message(platform: FaultPlatform) -> None:
    traffic = Traffic(platform, 20, 3, gap_s=1.0, name="RedisRestart")
    outage: Dict[str, float] = {}

    def outage_of_redis() -> None:
        time.sleep(1.0)
        platform.kill("redis", signal.SIGTERM)  # clean shutdown: the AOF is flushed
        outage["down"] = time.monotonic()
        time.sleep(3.0)
        platform.restart("redis")
        outage["up"] = time.monotonic()

    traffic.run(during=outage_of_redis)
    tally = traffic.wait_for_answers(timeout=120)
    refused = sum(1 for d in platform.sandbox.webhooks()
                  for a in d.get("attempts", []) if a.get("status") == 503)
    print(f"[faults] redis restart ({outage['up'] - outage['down']:.1f} s down): {tally.summary()}; "
          f"{tally.silent()} met with silence; {refused} webhook attempts answered 503 in the sandbox log")
    dead = platform.redis().xlen(keys.INBOUND_DEAD_STREAM)
    after = continues(platform, traffic.customers)
    print(f"[faults] redis restart, after recovery: {after.summary()}")
    assert not tally.lost, f"lost: {tally.lost_ids()} (dead letters: {dead})"
    # At-least-once (connectors/README.md): a turn whose reply went out while Redis was down
    # could not be acked, so it is processed again: at most one extra reply per contact.
    assert len(tally.duplicated) <= len(traffic.customers), tally.summary()
    assert not after.lost and not after.duplicated, after.summary()


def groups_behind(platform: FaultPlatform, stream: str, last_id: str) -> Dict[str, str]:
    """Consumer groups on `stream` that have not yet been delivered `last_id`."""
    def key(entry_id: str) -> tuple:
        ms, _, seq = entry_id.partition("-")
        return int(ms), int(seq or 0)
    return {g["name"]: g["last-delivered-id"] for g in platform.redis().xinfo_groups(stream)
            if key(g["last-delivered-id"]) < key(last_id)}


def test_after_a_redis_restart_every_event_consumer_group_catches_up(platform: FaultPlatform) -> None:
    customer = platform.new_customer("Catch Up")
    assert customer.ask("hi")
    platform.kill("redis", signal.SIGTERM)
    time.sleep(2.0)
    platform.restart("redis")
    assert customer.ask("hi"), "the bot did not answer after the Redis restart"
    last_id = platform.redis().xinfo_stream(keys.EVENTS_STREAM)["last-generated-id"]
    deadline, behind = time.monotonic() + 20, {"?": "?"}
    while behind and time.monotonic() < deadline:
        behind = groups_behind(platform, keys.EVENTS_STREAM, last_id)
        time.sleep(0.5)
    dead = platform.dead()
    assert not dead, f"processes exited after the Redis restart: {dead}"
    assert not behind, f"consumer groups stuck after the Redis restart (last id {last_id}): {behind}"


def test_after_an_idle_redis_restart_every_turn_is_kept_in_the_tracker(platform: FaultPlatform) -> None:
    customers = [platform.new_customer(f"IdleRedis {i}") for i in range(4)]
    for customer in customers:
        assert customer.ask("hi")
    platform.kill("redis", signal.SIGTERM)
    time.sleep(1.0)
    platform.restart("redis")
    unsaved = []
    for customer in customers:
        try:
            assert customer.ask("hi", timeout=20)
        except AssertionError:
            unsaved.append(customer.wa_id)
    print(f"[faults] idle redis restart: {len(unsaved)}/{len(customers)} turns missing from the tracker")
    assert not unsaved, f"turns answered but not in the persisted tracker: {unsaved}"


def mongo_docs(platform: FaultPlatform, collection: str, query: Dict[str, Any]) -> List[Dict[str, Any]]:
    import pymongo

    client: Any = pymongo.MongoClient(platform.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        return list(client[platform.mongo_db][collection].find(query))
    finally:
        client.close()


def test_mongo_outage_delays_transcripts_but_loses_none_and_the_bot_keeps_talking(
        platform: FaultPlatform) -> None:
    # Customers already with a human: their messages become transcript lines (MongoDB, behind).
    humans = [platform.new_customer(f"MongoHuman {i}") for i in range(5)]
    for customer in humans:
        replies = [reply_text(m) for m in customer.ask("talk to a human")]
        deadline = time.monotonic() + 10
        while customer.ownership().get("owner") not in ("queued", "assigned"):
            assert time.monotonic() < deadline, f"not handed over: {replies} {customer.ownership()}"
            time.sleep(0.2)
    inbound: Dict[str, Set[str]] = {c.wa_id: set() for c in humans}

    platform.kill("mongodb", signal.SIGTERM)
    down, down_wall = time.monotonic(), time.time()
    try:
        # While MongoDB is down: bot customers chat, humans' customers write to the agents.
        traffic = Traffic(platform, 10, 3, gap_s=2.0, name="MongoDown")
        traffic.run()
        for n in range(3):
            for customer in humans:
                inbound[customer.wa_id].add(customer.says(f"still waiting, message {n}"))
        during = traffic.wait_for_answers(timeout=45, settle_s=1.0)
        apologies = sorted({t[:60] for texts in during.other.values() for t in texts})
        print(f"[faults] mongo down: {during.summary()}; {during.silent()} met with silence; "
              f"replies: {apologies[:2]}")
        time.sleep(max(0.0, 60.0 - (time.monotonic() - down)))
    finally:
        platform.restart("mongodb")
    print(f"[faults] mongo was down {time.monotonic() - down:.0f} s")

    # Every customer line (and every bot reply to them) lands once MongoDB is back.
    expected: Dict[str, Set[str]] = {}
    for customer in humans:
        expected[customer.wa_id] = inbound[customer.wa_id] | {
            m["wamid"] for m in customer.replies() if float(m["at"]) >= down_wall}
    deadline, missing = time.monotonic() + 60, expected
    while time.monotonic() < deadline:
        missing = {}
        for wa_id, wamids in expected.items():
            stored = {d["_id"] for d in mongo_docs(platform, "handoff_transcript", {"wa_id": wa_id})}
            if wamids - stored:
                missing[wa_id] = wamids - stored
        if not missing:
            break
        time.sleep(2.0)
    lines = sum(len(w) for w in expected.values())
    print(f"[faults] mongo back: {lines - sum(len(w) for w in missing.values())}/{lines} transcript lines stored")
    after = continues(platform, traffic.customers)
    print(f"[faults] mongo back, bot customers: {after.summary()}")
    tickets = {c.wa_id: len(mongo_docs(platform, "handoff_tickets", {"wa_id": c.wa_id})) for c in humans}
    assert not missing, f"transcript lines never written: {missing}"
    assert during.silent() == 0, f"the bot went silent while MongoDB was down: {during.summary()}"
    assert not during.duplicated, during.summary()
    assert not after.lost and not after.duplicated, after.summary()
    assert set(tickets.values()) == {1}, tickets


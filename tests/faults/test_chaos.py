"""A misbehaving Graph API and a misbehaving webhook sender.

- Sends that fail with 5xx (500/131000, 503/2), stall (chaos timeouts shorter than the client's
  10 s timeout: not ambiguous) and 130429 storms (sandbox throughput far below the sender's
  80/s bucket): the sender retries, every bot reply is delivered exactly once, nothing crashes.
- 1,000 duplicated and reordered webhooks: the sandbox's chaos duplicates every POST, reorders
  and batches statuses, then every captured signed body is replayed at the connector, shuffled,
  concurrently. Each message is answered once; each message and each (wamid, status) is one event.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Set, Tuple

import pytest

from connectors import events, keys
from devstack.services import RASA_WEBHOOK_PATH
from tests.faults.conftest import FaultPlatform
from tests.faults.traffic import Traffic, continues
from tests.plugins.sandbox import http

pytestmark = pytest.mark.slow
REPLAYED_WEBHOOKS = 1000


def failed_sends(platform: FaultPlatform, wa_ids: Set[str]) -> Counter:
    """Error codes of message.failed events (sends given up) to these customers."""
    return Counter(str((e["data"].get("errors") or [{}])[0].get("code"))
                   for e in platform.stream(keys.EVENTS_STREAM, type=events.MESSAGE_FAILED)
                   if e["data"].get("wa_id") in wa_ids)


def test_graph_5xx_and_stalls_deliver_each_reply_once(platform: FaultPlatform) -> None:
    # 20% of sends fail (500/131000 or 503/2), 10% stall 2 s (below the client's 10 s timeout).
    platform.sandbox.configure(chaos={"send_5xx": 0.2, "send_timeout": 0.1}, chaos_timeout_ms=2000)
    traffic = Traffic(platform, 10, 3, gap_s=1.0, name="Graph5xx")
    traffic.run()
    tally = traffic.wait_for_answers(timeout=90)
    platform.sandbox.configure(chaos={"send_5xx": 0.0, "send_timeout": 0.0})
    failed = failed_sends(platform, {c.wa_id for c in traffic.customers})
    print(f"[faults] graph 5xx 20% + 2 s stalls 10%: {tally.summary()}; sends given up: {dict(failed)}")
    assert not platform.dead(), platform.dead()
    assert not tally.lost, f"lost: {tally.lost_ids()}; sends given up: {dict(failed)}"
    assert not tally.duplicated, tally.summary()
    after = continues(platform, traffic.customers)
    assert not after.lost and not after.duplicated, after.summary()


def test_a_130429_throughput_storm_delays_but_does_not_drop_bot_replies(platform: FaultPlatform) -> None:
    platform.sandbox.configure(throughput_mps=2)
    traffic = Traffic(platform, 20, 2, gap_s=0.5, name="Storm")
    try:
        traffic.run()
        # Rate-limited sends are retried for about two minutes (RetryPolicy.rate_limited_attempts).
        tally = traffic.wait_for_answers(timeout=150, settle_s=1.0)
    finally:
        platform.sandbox.configure(throughput_mps=80)
    failed = failed_sends(platform, {c.wa_id for c in traffic.customers})
    print(f"[faults] 130429 storm (sandbox 2 msg/s): {tally.summary()}; sends given up: {dict(failed)}")
    assert not platform.dead(), platform.dead()
    assert not tally.duplicated, tally.summary()
    assert not tally.lost, f"{len(tally.lost)} replies dropped; sends given up: {dict(failed)}"


def _ours(delivery: Dict[str, Any], wa_ids: Set[str]) -> bool:
    raw = delivery.get("raw") or delivery.get("body") or ""
    text = raw if isinstance(raw, str) else str(raw)
    return any(w in text for w in wa_ids)


def test_a_thousand_duplicated_and_reordered_webhooks_are_each_handled_once(platform: FaultPlatform) -> None:
    platform.sandbox.configure(chaos={"duplicate": 1.0, "reorder": 1.0, "batch": 0.3})
    traffic = Traffic(platform, 20, 2, gap_s=0.5, name="Dupes")
    traffic.run()
    tally = traffic.wait_for_answers(timeout=90, settle_s=2.0)
    wa_ids = {c.wa_id for c in traffic.customers}
    # Let every reply's statuses (sent, delivered, read: 20/40/60 ms apart) go out, doubled.
    time.sleep(2.0)
    platform.sandbox.configure(chaos={"duplicate": 0.0, "reorder": 0.0, "batch": 0.0})
    deliveries = [d for d in platform.sandbox.webhooks() if _ours(d, wa_ids)]
    posted = sum(len(d.get("attempts", [])) for d in deliveries)
    bodies: List[Tuple[bytes, str]] = []
    for d in deliveries:
        raw = d["raw"]
        bodies.append((raw.encode() if isinstance(raw, str) else bytes(raw), d["signature"]))
    assert bodies, "no webhooks captured"
    rng = random.Random(7)
    replays = [rng.choice(bodies) for _ in range(max(0, REPLAYED_WEBHOOKS - posted))]
    rng.shuffle(replays)
    url = platform.rasa_url + RASA_WEBHOOK_PATH

    def replay(item: Tuple[bytes, str]) -> int:
        return http("POST", url, raw=item[0], timeout=15,
                    headers={"Content-Type": "application/json", "X-Hub-Signature-256": item[1]})[0]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = Counter(pool.map(replay, replays, timeout=120))
    replay_s = time.monotonic() - started
    time.sleep(3.0)  # a wrongly accepted replay would now be answered
    final = traffic.tally()
    print(f"[faults] {posted} webhook POSTs by the sandbox (chaos duplicate 100%, reorder, batch) + "
          f"{len(replays)} replays of {len(bodies)} signed bodies in {replay_s:.1f} s "
          f"(HTTP {dict(codes)}): {final.summary()}")
    assert codes == Counter({200: len(replays)}), codes

    # One message.received per inbound wamid; one status event per (wamid, status).
    received = Counter(e["id"] for e in platform.stream(keys.EVENTS_STREAM, type=events.MESSAGE_RECEIVED)
                       if e["data"].get("wa_id") in wa_ids)
    status_types = (events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ)
    statuses = Counter(e["id"] for e in platform.stream(keys.EVENTS_STREAM)
                       if e["type"] in status_types and e["data"].get("wa_id") in wa_ids)
    sent_wamids = {s.wamid for s in traffic.sent}
    assert set(received) == sent_wamids and set(received.values()) == {1}, received
    assert statuses and set(statuses.values()) == {1}, [k for k, n in statuses.items() if n > 1]
    reply_wamids = {m["wamid"] for c in traffic.customers for m in c.replies()}
    assert {k.rsplit(":", 1)[0] for k in statuses} <= reply_wamids
    assert not tally.lost and not final.lost, f"lost: {final.lost_ids()}"
    assert not final.duplicated, final.summary()

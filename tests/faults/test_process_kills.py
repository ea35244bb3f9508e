"""SIGKILL of Parley's processes in the middle of traffic, then a restart: nothing is lost, and
every conversation continues.

Guarantee under test (connectors/README.md, "Dedupe and acks"): a webhook is answered 200 only
once stored in Redis; a partition entry is acked only after Rasa handled it, and one that was
in flight at a crash is processed again (AT-LEAST-ONCE). So after a rasa SIGKILL no message may
be lost, while a message whose reply went out just before the kill may be answered twice: those
duplicates are counted and reported, and bounded by one per contact (one turn in flight each).
"""
from __future__ import annotations

import signal
import time

import pytest

from connectors import keys
from tests.faults.conftest import FaultPlatform
from tests.faults.traffic import Traffic, continues

pytestmark = pytest.mark.slow

CUSTOMERS, MESSAGES = 20, 3


def dead_letters(platform: FaultPlatform) -> int:
    return int(platform.redis().xlen(keys.INBOUND_DEAD_STREAM)) if platform.redis().exists(keys.INBOUND_DEAD_STREAM) else 0


def test_rasa_sigkill_mid_traffic_loses_nothing(platform: FaultPlatform) -> None:
    dead_before = dead_letters(platform)
    traffic = Traffic(platform, CUSTOMERS, MESSAGES, gap_s=1.0, name="RasaKill")
    timings = {}

    def crash() -> None:
        time.sleep(1.5)  # ~30 messages in flight or answered
        platform.kill("rasa", signal.SIGKILL)
        timings["killed"] = time.monotonic()
        time.sleep(1.0)  # webhooks now fail: the sandbox retries them
        platform.restart("rasa")
        timings["restarted"] = time.monotonic()

    traffic.run(during=crash)
    tally = traffic.wait_for_answers(timeout=150)
    print(f"[faults] rasa SIGKILL: {tally.summary()}; rasa back in "
          f"{timings['restarted'] - timings['killed']:.1f} s")
    assert not tally.lost, f"lost: {tally.lost_ids()}"
    assert len(tally.duplicated) <= CUSTOMERS, tally.summary()
    assert dead_letters(platform) == dead_before

    after = continues(platform, traffic.customers)
    print(f"[faults] rasa SIGKILL, after recovery: {after.summary()}")
    assert not after.lost and not after.duplicated, after.summary()


def test_action_server_sigkill_mid_traffic_is_not_silence(platform: FaultPlatform) -> None:
    """Rasa 3.6 swallows a custom action's failure and ends the turn without a reply; the channel
    then sends its apology (issue #7, connectors/README.md "A failed action is never silence"), so
    every message is answered or apologised for, and the chats continue once the server is back."""
    traffic = Traffic(platform, CUSTOMERS, MESSAGES, gap_s=1.0, name="ActionsKill")

    def crash() -> None:
        time.sleep(1.0)
        platform.kill("actions", signal.SIGKILL)
        time.sleep(2.0)  # a third of the messages arrive while the action server is down
        platform.restart("actions")

    traffic.run(during=crash)
    tally = traffic.wait_for_answers(timeout=60)
    apologies = sorted({t for texts in tally.other.values() for t in texts})
    print(f"[faults] actions SIGKILL: {tally.summary()}; {tally.silent()} met with silence; "
          f"what customers saw instead: {apologies[:3]}")
    after = continues(platform, traffic.customers)
    print(f"[faults] actions SIGKILL, after recovery: {after.summary()}")
    assert not after.lost and not after.duplicated, after.summary()
    assert not tally.duplicated, tally.summary()
    assert tally.silent() == 0, f"{tally.silent()} messages were never answered: {tally.summary()}"

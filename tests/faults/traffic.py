"""Customer traffic for fault tests, and the one way they count what customers received.

Every message a customer sends asks about an order id nobody else uses (``PS-<5 digits>``, never
a seeded one). The bot's answer names that id ("I couldn't find an order PS-43121 ...", or the
status of a seeded one), so each reply at the sandbox outbox belongs to exactly one inbound
message: a message with no reply naming its id was LOST, one with two or more was DUPLICATED.
Replies naming no id (e.g. "Sorry, I can't check orders right now") are counted separately as
apologies, per customer.

All loops are bounded in count and time; customers run in a small thread pool.
"""
from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from tests.plugins.platform import Customer, Platform, reply_text

_IDS = itertools.count(20000)
_IDS_LOCK = threading.Lock()


def next_order_id() -> str:
    with _IDS_LOCK:
        return f"PS-{next(_IDS):05d}"


@dataclass
class Sent:
    customer: Customer
    order_id: str
    wamid: str
    at: float


@dataclass
class Tally:
    """What the customers received, per inbound message."""

    sent: List[Sent]
    answered: Dict[str, int]                     # wamid -> replies naming its order id
    other: Dict[str, List[str]]                  # wa_id -> replies naming no order id sent
    lost: List[Sent] = field(default_factory=list)
    duplicated: List[Sent] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Extra replies beyond one per message."""
        return sum(self.answered[s.wamid] - 1 for s in self.duplicated)

    def summary(self) -> str:
        apologies = sum(len(v) for v in self.other.values())
        return (f"{len(self.sent)} messages from {len({s.customer.wa_id for s in self.sent})} customers: "
                f"{len(self.sent) - len(self.lost)} answered, {len(self.lost)} lost, "
                f"{len(self.duplicated)} answered more than once ({self.duplicates} extra replies), "
                f"{apologies} replies naming no order id")

    def silent(self) -> int:
        """Messages that got neither their answer nor any other reply (an apology) in their
        customer's conversation: what a customer would experience as silence."""
        lost: Dict[str, int] = {}
        for s in self.lost:
            lost[s.customer.wa_id] = lost.get(s.customer.wa_id, 0) + 1
        return sum(max(0, n - len(self.other.get(wa_id, []))) for wa_id, n in lost.items())

    def lost_ids(self) -> List[str]:
        return [f"{s.customer.wa_id}:{s.order_id}" for s in self.lost]


def order_question(order_id: str, n: int) -> str:
    # A few phrasings the model classifies as order_status with the id as entity.
    return ("where is my order {}", "what is the status of order {}", "track my order {}")[n % 3].format(order_id)


class Traffic:
    """`customers` customers, each sending `messages` order questions with `gap_s` between them
    (not waiting for answers: a real customer does not wait for a crashed bot)."""

    def __init__(self, platform: Platform, customers: int = 20, messages: int = 3,
                 gap_s: float = 1.0, name: str = "Fault",
                 existing: Optional[List[Customer]] = None) -> None:
        self.platform = platform
        self.customers = list(existing) if existing is not None else \
            [platform.new_customer(f"{name} {i}") for i in range(customers)]
        self.messages, self.gap_s = messages, gap_s
        self.sent: List[Sent] = []
        self.started_at = time.time()  # outbox `at` is Unix time: replies before this are not ours
        self._lock = threading.Lock()
        self._errors: List[BaseException] = []

    def _one_customer(self, customer: Customer, offset: float) -> None:
        time.sleep(offset)
        for n in range(self.messages):
            order_id = next_order_id()
            wamid = customer.says(order_question(order_id, n))
            with self._lock:
                self.sent.append(Sent(customer, order_id, wamid, time.monotonic()))
            time.sleep(self.gap_s)

    def run(self, during: Optional[Callable[[], None]] = None, workers: int = 10) -> None:
        """Send all messages (customers staggered over `gap_s`); `during` runs in this thread
        while they are being sent (the fault)."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=min(workers, len(self.customers))) as pool:
            futures = [pool.submit(self._one_customer, c, self.gap_s * i / len(self.customers))
                       for i, c in enumerate(self.customers)]
            if during is not None:
                during()
            for future in futures:
                future.result(timeout=120)
        self.sending_s = time.monotonic() - started

    def tally(self) -> Tally:
        answered: Dict[str, int] = {}
        other: Dict[str, List[str]] = {}
        by_customer: Dict[str, List[Sent]] = {}
        for s in self.sent:
            by_customer.setdefault(s.customer.wa_id, []).append(s)
        for wa_id, sents in by_customer.items():
            texts = [reply_text(m) for m in self.platform.sandbox.outbox(to=wa_id)
                     if float(m.get("at") or 0) >= self.started_at - 0.5]
            for s in sents:
                answered[s.wamid] = sum(1 for t in texts if s.order_id in t)
            other[wa_id] = [t for t in texts if not any(s.order_id in t for s in sents)]
        tally = Tally(self.sent, answered, other)
        tally.lost = [s for s in self.sent if answered[s.wamid] == 0]
        tally.duplicated = [s for s in self.sent if answered[s.wamid] > 1]
        return tally

    def wait_for_answers(self, timeout: float, settle_s: float = 3.0) -> Tally:
        """Poll until every message has a reply (or `timeout`), then wait `settle_s` more so
        late duplicates are counted too."""
        deadline = time.monotonic() + timeout
        tally = self.tally()
        while tally.lost and time.monotonic() < deadline:
            time.sleep(1.0)
            tally = self.tally()
        time.sleep(settle_s)
        return self.tally()


def continues(platform: Platform, customers: List[Customer], timeout: float = 90.0) -> Tally:
    """Each customer asks one more question after the recovery (all at once); their tally."""
    after = Traffic(platform, messages=1, gap_s=0.5, existing=customers)
    after.run()
    return after.wait_for_answers(timeout, settle_s=1.0)

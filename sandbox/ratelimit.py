"""Token buckets: per-number throughput (130429) and per-(number, recipient) pair rate (131056).

Reference 6.1/6.2: 80 messages per second per business number by default; a pair may burst
45 messages and then refills one every 6 seconds. Time is passed in (monotonic seconds), so
the buckets are plain, testable values.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` tokens per second."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate, capacity, capacity, now)

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ThroughputLimiter:
    """One bucket per business phone number; ``mps`` 0 switches it off."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, phone_number_id: str, mps: float, now: float) -> bool:
        if mps <= 0:
            return True
        bucket = self._buckets.get(phone_number_id)
        if bucket is None or bucket.rate != mps:
            bucket = self._buckets[phone_number_id] = TokenBucket.full(mps, max(mps, 1.0), now)
        return bucket.take(now)

    def clear(self) -> None:
        self._buckets.clear()


class PairLimiter:
    """One bucket per (business number, recipient): ``burst`` tokens, one back every ``interval_s``."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, phone_number_id: str, wa_id: str, burst: int, interval_s: float, now: float) -> bool:
        if burst <= 0:
            return True
        rate = 1.0 / interval_s if interval_s > 0 else float("inf")
        key = (phone_number_id, wa_id)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != burst or bucket.rate != rate:
            bucket = self._buckets[key] = TokenBucket.full(rate, float(burst), now)
        return bucket.take(now)

    def clear(self) -> None:
        self._buckets.clear()

"""What one delivery attempt's outcome means: delivered, failed for good, retry later, or dead.

Retried: network errors and timeouts (``status`` None), 429 and 5xx; the wait before attempt
n+1 is ``schedule[n-1]`` (the last value repeats) scaled by a random factor in
[1 - jitter, 1 + jitter], or the receiver's ``Retry-After`` when longer (capped at the schedule's
longest wait). Any other non-2xx (3xx are not followed, 4xx) fails without retry. After
``max_attempts`` the delivery is dead.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional, Tuple

from .outbox import DeliveryState


@dataclass(frozen=True)
class RetryPolicy:
    schedule: Tuple[float, ...]
    max_attempts: int
    jitter: float = 0.2

    @staticmethod
    def retryable(status: Optional[int]) -> bool:
        return status is None or status == 429 or status >= 500

    def outcome(self, status: Optional[int], attempt: int,
                retry_after: Optional[float] = None) -> Tuple[DeliveryState, Optional[float]]:
        """(next state, seconds until the next attempt if there is one) after attempt number ``attempt``."""
        if status is not None and 200 <= status < 300:
            return DeliveryState.DELIVERED, None
        if not self.retryable(status):
            return DeliveryState.FAILED, None
        if attempt >= self.max_attempts:
            return DeliveryState.DEAD, None
        return DeliveryState.PENDING, self.delay(attempt, retry_after)

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        base = self.schedule[min(attempt, len(self.schedule)) - 1]
        wait = base * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter, not security
        if retry_after is not None:
            wait = max(wait, min(retry_after, max(self.schedule)))
        return wait


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (the delta form; an HTTP date is ignored)."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None

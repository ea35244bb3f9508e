"""The 24-hour customer service window per (business number, user) (reference 6.4).

Every inbound user message opens or refreshes it; free-form sends outside it fail
asynchronously with 131047. Times are wall-clock Unix seconds.
"""
from __future__ import annotations


class CustomerWindows:
    """Last inbound time per (phone_number_id, wa_id)."""

    def __init__(self) -> None:
        self._last_inbound: dict[tuple[str, str], float] = {}

    def touch(self, phone_number_id: str, wa_id: str, now: float) -> None:
        """An inbound message arrived: (re)open the window."""
        self._last_inbound[(phone_number_id, wa_id)] = now

    def last_inbound(self, phone_number_id: str, wa_id: str) -> float | None:
        return self._last_inbound.get((phone_number_id, wa_id))

    def is_open(self, phone_number_id: str, wa_id: str, now: float, window_seconds: float) -> bool:
        last = self._last_inbound.get((phone_number_id, wa_id))
        return last is not None and now - last < window_seconds

    def clear(self) -> None:
        self._last_inbound.clear()

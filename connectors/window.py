"""The 24-hour customer service window of one (business number, customer) pair (reference §6.4).

Stored at ``keys.window(phone_number_id, wa_id)`` = Unix time of the customer's last inbound
message, expiring when the window closes. The inbound consumer calls ``refresh_window`` for
every customer message; the sender asks ``window_open`` before a free-form message.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional, Union

from connectors import keys

WINDOW_SECONDS = 24 * 60 * 60

# Never moves the window backwards: Meta delivers out of order, and an old message arriving
# late must not shorten a window a newer one opened.
_REFRESH_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local ts = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
if ts > current and ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
  return 1
end
return 0
"""

Clock = Callable[[], float]
Timestamp = Union[int, float, str]


def _script(redis: Any) -> Any:
    # register_script only hashes the text; it is cheap enough to do per call site.
    return redis.register_script(_REFRESH_LUA)


async def refresh_window(redis: Any, phone_number_id: str, wa_id: str, ts: Timestamp,
                         *, clock: Clock = time.time) -> bool:
    """Record an inbound message at Unix time ``ts`` (Meta's string timestamps are fine).

    Returns True when the window moved forward, False for an older or already-expired message.
    """
    stamp = int(float(ts))
    ttl = int(stamp + WINDOW_SECONDS - clock())
    result = await _script(redis)(keys=[keys.window(phone_number_id, wa_id)], args=[stamp, ttl], client=redis)
    return bool(int(result))


def expires_at(value: Any) -> Optional[float]:
    """The closing time stored in a window key's value (bytes, str or None)."""
    if value is None:
        return None
    try:
        return float(value) + WINDOW_SECONDS
    except (TypeError, ValueError):
        return None


async def window_expires_at(redis: Any, phone_number_id: str, wa_id: str) -> Optional[float]:
    """Unix time the window closes, or None when there is none."""
    return expires_at(await redis.get(keys.window(phone_number_id, wa_id)))


async def window_open(redis: Any, phone_number_id: str, wa_id: str, *, now: Optional[float] = None,
                      margin: float = 0.0) -> bool:
    """True while free-form messages may be sent; ``margin`` seconds before the end count as closed."""
    expires = await window_expires_at(redis, phone_number_id, wa_id)
    if expires is None:
        return False
    return expires - margin > (time.time() if now is None else now)

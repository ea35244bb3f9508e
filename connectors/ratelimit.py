"""Throughput limits shared by every process, in Redis (reference §6.1, §6.2).

One Lua script (atomic, Redis's own clock, so processes on different hosts agree) keeps a
token bucket in a hash ``{tokens, ts}``. It answers a *wait time* in seconds, never a refusal:

- ``reserve``: take the token now even if that drives the bucket into debt; the caller sleeps
  the returned wait and then sends. One round trip per message, exact pacing.
- ``try`` with a ``floor``: take the token only if ``floor`` tokens would remain; otherwise
  take nothing and return how long until that is true. Campaign sends use this, so they only
  ever use tokens no conversational send has reserved (reservations put the bucket in debt,
  which a ``try`` waits out) and they leave ``floor`` tokens standing for conversations.

The per-number bucket (``keys.rate_bucket``) defaults to 80 msg/s; the per-recipient pair
budget (``keys.pair_rate``) to 45 messages refilled one per 6 s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from connectors import keys

_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local mode = ARGV[4]
local floor = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if mode == 'try' then
  if tokens - cost < floor then
    return string.format('%.6f', (floor + cost - tokens) / rate)
  end
  tokens = tokens - cost
else
  tokens = tokens - cost
  if tokens < 0 then
    wait = -tokens / rate
  end
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 60)
return string.format('%.6f', wait)
"""


@dataclass(frozen=True)
class RateLimits:
    """Throughput settings of one business number.

    ``mps``: messages per second (Meta: 80 by default, up to 1,000 after an upgrade; ``None``
    turns the bucket off). ``burst``: bucket capacity; small by default so the send rate stays
    smooth under any server-side window. ``conversation_reserve``: tokens a campaign send must
    leave in the bucket. ``pair_interval``/``pair_burst``: per-recipient budget (None = off).
    """

    mps: Optional[float] = 80.0
    burst: Optional[float] = None
    conversation_reserve: float = 1.0
    pair_interval: Optional[float] = 6.0
    pair_burst: int = 45

    def __post_init__(self) -> None:
        if self.mps is not None and not 0 < self.mps <= 100_000:
            raise ValueError(f"mps must be in (0, 100000], not {self.mps}")
        if self.pair_interval is not None and self.pair_interval <= 0:
            raise ValueError("pair_interval must be positive")

    @property
    def capacity(self) -> float:
        if self.burst is not None:
            return float(self.burst)
        return max(1.0, (self.mps or 0) / 20) + self.conversation_reserve


class TokenBucket:
    """A Redis token bucket at ``key``: ``rate`` tokens/s, at most ``capacity`` stored."""

    def __init__(self, redis: Any, key: str, rate: float, capacity: float) -> None:
        self.redis = redis
        self.key = key
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._script = redis.register_script(_BUCKET_LUA)

    async def reserve(self, cost: float = 1.0) -> float:
        """Take ``cost`` tokens (possibly into debt); seconds to wait before using them."""
        return await self._run("reserve", cost, 0.0)

    async def try_take(self, cost: float = 1.0, floor: float = 0.0) -> float:
        """Take ``cost`` tokens if ``floor`` remain afterwards (0.0 returned), else take nothing
        and return the seconds until that could succeed."""
        return await self._run("try", cost, floor)

    async def _run(self, mode: str, cost: float, floor: float) -> float:
        result = await self._script(keys=[self.key], args=[self.rate, self.capacity, cost, mode, floor])
        return float(result.decode() if isinstance(result, bytes) else result)


def number_bucket(redis: Any, phone_number_id: str, limits: RateLimits) -> Optional[TokenBucket]:
    """The shared throughput bucket of one business number (None when ``limits.mps`` is None)."""
    if limits.mps is None:
        return None
    return TokenBucket(redis, keys.rate_bucket(phone_number_id), limits.mps, limits.capacity)


class PairPacer:
    """Per-recipient spacing: ``burst`` messages, then one per ``interval`` seconds (Meta: 45, 6 s)."""

    def __init__(self, redis: Any, phone_number_id: str, interval: float = 6.0, burst: int = 45) -> None:
        self.redis = redis
        self.phone_number_id = str(phone_number_id)
        self.rate = 1.0 / interval
        self.burst = float(burst)
        self._script = redis.register_script(_BUCKET_LUA)

    async def reserve(self, wa_id: str) -> float:
        """Reserve the next slot for ``wa_id``; seconds to wait before sending."""
        key = keys.pair_rate(self.phone_number_id, wa_id)
        result = await self._script(keys=[key], args=[self.rate, self.burst, 1, "reserve", 0])
        return float(result.decode() if isinstance(result, bytes) else result)

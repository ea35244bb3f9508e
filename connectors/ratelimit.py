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

``RedisBatcher`` is the group commit these calls go through in the sender: every command
issued while one pipeline is in flight goes out in the next one, so a thousand concurrent
sends cost a few round trips and one or two connections (redis-py 8's default pool stops at
100 connections and raises beyond).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

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
        result = await self._script(keys=[self.key], args=[self.rate, self.capacity, cost, mode, floor],
                                    client=self.redis)
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
        result = await self._script(keys=[key], args=[self.rate, self.burst, 1, "reserve", 0], client=self.redis)
        return float(result.decode() if isinstance(result, bytes) else result)


class RedisBatcher:
    """The subset of a ``redis.asyncio`` client the WhatsApp kit uses, batched (group commit).

    ``get``, ``exists``, ``set``, ``xadd``, ``evalsha`` and ``script_load`` are queued; the first call of a loop
    tick schedules a flush, and calls made while a pipeline is in flight go in the next one.
    Errors are per command. Pass it wherever a redis client is expected in connectors
    (``window_open``, ``RedisConsent``, ``TokenBucket``...). ``aclose`` waits for the last flush.
    """

    def __init__(self, redis: Any, *, max_batch: int = 512) -> None:
        self.redis = redis
        self.max_batch = max_batch
        self._pending: List[Tuple[Callable[[Any], Any], "asyncio.Future[Any]"]] = []
        self._flusher: Optional["asyncio.Task[None]"] = None

    def register_script(self, script: str) -> Any:
        return self.redis.register_script(script)

    def script_load(self, script: str) -> "asyncio.Future[Any]":
        return self._queue(lambda pipe: pipe.script_load(script))

    def get(self, key: str) -> "asyncio.Future[Any]":
        return self._queue(lambda pipe: pipe.get(key))

    def exists(self, *names: str) -> "asyncio.Future[Any]":
        return self._queue(lambda pipe: pipe.exists(*names))

    def set(self, key: str, value: Any, **options: Any) -> "asyncio.Future[Any]":
        return self._queue(lambda pipe: pipe.set(key, value, **options))

    def xadd(self, name: str, fields: Any, **options: Any) -> "asyncio.Future[Any]":
        return self._queue(lambda pipe: pipe.xadd(name, fields, **options))

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> "asyncio.Future[Any]":
        return self._queue(lambda pipe: pipe.evalsha(sha, numkeys, *keys_and_args))

    def _queue(self, command: Callable[[Any], Any]) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Any]" = loop.create_future()
        self._pending.append((command, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
            batch = [(command, future) for command, future in batch if not future.done()]
            if not batch:
                continue
            pipe = self.redis.pipeline(transaction=False)
            try:
                for command, _ in batch:
                    command(pipe)
                results = await pipe.execute(raise_on_error=False)
            except asyncio.CancelledError:
                for _, future in batch + self._pending:
                    future.cancel()
                self._pending = []
                raise
            except Exception as exc:  # noqa: BLE001 - connection lost: every caller of this batch sees it
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def aclose(self) -> None:
        """Wait for commands already queued (the underlying client stays open: it was injected)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

"""Throughput limits shared by every process, in Redis (reference §6.1, §6.2).

Token buckets live in Redis hashes ``{tokens, ts}`` and are changed only by Lua (atomic, on
Redis's own clock, so processes on different hosts agree). They answer a *wait*, never a
refusal:

- ``reserve``: take the token now even if the bucket goes into debt; the caller sleeps the
  returned wait, then sends. Exact pacing, one step per message.
- ``try`` with a ``floor``: take up to ``cost`` tokens while ``floor`` stay in the bucket;
  when none can be taken, take nothing and return how long until one can. Campaign sends use
  this: they only get tokens no conversational send has reserved (reservations put the bucket
  in debt, which a ``try`` waits out) and they leave ``floor`` tokens standing.

The per-number bucket (``keys.rate_bucket``) defaults to 80 msg/s; the per-recipient pair
budget (``keys.pair_rate``) to 45 messages refilled one per 6 s.

Batching, because redis-py costs ~50 µs of CPU per command and its v8 pool stops at 100
connections: ``Admission`` checks the window, reserves the pair slot and the bucket token of
*every* send made during one event-loop tick in a single script call (``ScriptBatch``), and
``RedisBatcher`` pipelines plain commands the same way. The batched admission script reads
keys it builds from its arguments, so it needs a single Redis (standalone or Sentinel), not
Cluster; the single-key ``TokenBucket`` and ``PairPacer`` have no such limit.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from connectors import keys
from connectors.window import WINDOW_SECONDS

_TAKE_LUA = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function take(key, rate, capacity, cost, mode, floor, now)
  local state = redis.call('HMGET', key, 'tokens', 'ts')
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
  local granted = cost
  if mode == 'try' then
    granted = math.min(cost, math.floor(tokens - floor))
    if granted < 1 then
      return 0, (floor + 1 - tokens) / rate
    end
  end
  tokens = tokens - granted
  local wait = 0
  if tokens < 0 then
    wait = -tokens / rate
  end
  redis.call('HSET', key, 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
  redis.call('EXPIRE', key, math.ceil((capacity - tokens) / rate) + 60)
  return granted, wait
end
"""

_BUCKET_LUA = _TAKE_LUA + """
local granted, wait = take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4],
                           tonumber(ARGV[5]), now_s())
return {tostring(granted), string.format('%.6f', wait)}
"""

# ARGV: bucket key ('' = no bucket), rate, capacity, pair rate, pair burst, the caller's clock,
# window seconds, then one JSON list of sends: [window key ('' = no check), pair key ('' =
# none), 1 to reserve a bucket token]. Returns a JSON list, two numbers per send: status (0
# window closed: nothing taken; 1 go after the wait; 2 wait for the pair slot, then reserve
# the bucket token) and the wait. JSON in and out: redis-py spends ~3 µs per argument.
_ADMIT_LUA = _TAKE_LUA + """
local bucket, rate, capacity = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local pair_rate, pair_burst = tonumber(ARGV[4]), tonumber(ARGV[5])
local clock, window_seconds = tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_s()
local out = {}
for _, send in ipairs(cjson.decode(ARGV[8])) do
  local window_key, pair_key = send[1], send[2]
  local status, wait = 1, 0
  if window_key ~= '' then
    local since = tonumber(redis.call('GET', window_key))
    if since == nil or since + window_seconds <= clock then
      status = 0
    end
  end
  local with_bucket = send[3] == 1 and bucket ~= ''
  if status == 1 and pair_key ~= '' then
    local _, pair_wait = take(pair_key, pair_rate, pair_burst, 1, 'reserve', 0, now)
    if pair_wait > 0 then
      wait = pair_wait
      if with_bucket then
        status = 2
      end
    end
  end
  if status == 1 and with_bucket then
    local _, bucket_wait = take(bucket, rate, capacity, 1, 'reserve', 0, now)
    wait = bucket_wait
  end
  out[#out + 1] = status
  out[#out + 1] = wait
end
return cjson.encode(out)
"""


@dataclass(frozen=True)
class RateLimits:
    """Throughput settings of one business number.

    ``mps``: messages per second (Meta: 80 by default, up to 1,000 after an upgrade; ``None``
    turns the bucket off). ``burst``: bucket capacity; by default 1/20 s of traffic plus the
    reserve, small so the rate stays smooth under any server-side window.
    ``conversation_reserve``: tokens a campaign send must leave in the bucket.
    ``pair_interval``/``pair_burst``: per-recipient budget (``pair_interval=None`` = off).
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


def _float(value: Any) -> float:
    return float(value.decode() if isinstance(value, bytes) else value)


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
        return (await self._run("reserve", cost, 0.0))[1]

    async def try_take(self, floor: float = 0.0) -> float:
        """Take one token if ``floor`` remain afterwards (0.0 returned), else take nothing and
        return the seconds until one could be taken."""
        granted, wait = await self._run("try", 1.0, floor)
        return 0.0 if granted >= 1 else wait

    async def take_up_to(self, cost: float, floor: float = 0.0) -> Tuple[int, float]:
        """Take as many of ``cost`` tokens as are there above ``floor``: (taken, wait if none)."""
        granted, wait = await self._run("try", cost, floor)
        return int(granted), wait

    async def _run(self, mode: str, cost: float, floor: float) -> Tuple[float, float]:
        granted, wait = await self._script(keys=[self.key], args=[self.rate, self.capacity, cost, mode, floor],
                                           client=self.redis)
        return _float(granted), _float(wait)


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
        _, wait = await self._script(keys=[keys.pair_rate(self.phone_number_id, wa_id)],
                                     args=[self.rate, self.burst, 1, "reserve", 0], client=self.redis)
        return _float(wait)


CLOSED, GO, PAIR_THEN_BUCKET = 0, 1, 2


class Admission:
    """Window check, pair slot and bucket token of one send, batched with every other send of
    the same loop tick into one script call. See the module docstring."""

    def __init__(self, redis: Any, phone_number_id: str, limits: RateLimits, *,
                 clock: Callable[[], float]) -> None:
        self.phone_number_id = str(phone_number_id)
        self.limits = limits
        self.clock = clock
        self._bucket_key = keys.rate_bucket(self.phone_number_id) if limits.mps else ""
        self._pair_rate = 1.0 / limits.pair_interval if limits.pair_interval else 1.0
        self._batch = ScriptBatch(redis, _ADMIT_LUA, self._head, stride=2)

    def _head(self) -> List[Any]:
        limits = self.limits
        return [self._bucket_key, limits.mps or 1, limits.capacity, self._pair_rate, limits.pair_burst,
                self.clock(), WINDOW_SECONDS]

    async def admit(self, wa_id: str, *, check_window: bool, pair: bool = True,
                    bucket: bool = True) -> Tuple[int, float]:
        """(status, wait): CLOSED (nothing taken), GO after ``wait``, or PAIR_THEN_BUCKET: sleep
        ``wait`` for the pair slot, then ``admit(..., check_window=False, pair=False)``."""
        status, wait = await self._batch.submit([
            keys.window(self.phone_number_id, wa_id) if check_window else "",
            keys.pair_rate(self.phone_number_id, wa_id) if pair and self.limits.pair_interval else "",
            1 if bucket and self._bucket_key else 0,
        ])
        return int(status), float(wait)

    async def aclose(self) -> None:
        await self._batch.aclose()


class _TickQueue:
    """Group commit per event-loop tick: ``_queue(item)`` returns a future; the first call of a
    tick starts the one flusher task, which hands the pending items, at most ``max_batch`` at a
    time, to ``_run`` (one round trip). Items queued while a run is in flight go in the next
    one. A result that is an exception fails only its own future; an exception from ``_run``
    fails the whole batch; cancelling the flusher cancels every pending future."""

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self._pending: List[Tuple[Any, "asyncio.Future[Any]"]] = []
        self._flusher: Optional["asyncio.Task[None]"] = None

    async def _run(self, items: List[Any]) -> List[Any]:
        """One round trip for ``items``: one result per item, in order."""
        raise NotImplementedError

    def _queue(self, item: Any) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Any]" = loop.create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            try:
                results = await self._run([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch + self._pending:
                    future.cancel()
                self._pending = []
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. connection lost: every caller of this batch sees it
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def aclose(self) -> None:
        """Wait for the items already queued."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)


class ScriptBatch(_TickQueue):
    """Group commit of one Lua script: each ``submit(item)`` adds ``item`` to the JSON list
    passed as the last argument of the next call (after the ``head()`` arguments shared by
    all) and gets its ``stride`` values of the JSON list the script returns (None when
    ``stride`` is 0). One call is in flight at a time; items submitted meanwhile wait for the
    next one."""

    def __init__(self, redis: Any, script: str, head: Callable[[], List[Any]], *, stride: int,
                 max_batch: int = 1000) -> None:
        super().__init__(max_batch)
        self.redis = redis.redis if isinstance(redis, RedisBatcher) else redis
        self._script = self.redis.register_script(script)
        self._head = head
        self.stride = stride

    def submit(self, item: Any) -> "asyncio.Future[Any]":
        return self._queue(item)

    async def _run(self, items: List[Any]) -> List[Any]:
        encoded = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
        result = await self._script(keys=[], args=[*self._head(), encoded], client=self.redis)
        values = json.loads(result) if self.stride else None
        if not values:
            return [None] * len(items)
        return [values[index * self.stride:(index + 1) * self.stride] for index in range(len(items))]


class RedisBatcher(_TickQueue):
    """The subset of a ``redis.asyncio`` client the WhatsApp kit uses, batched (group commit).

    ``get``, ``exists``, ``set``, ``xadd``, ``evalsha`` and ``script_load`` are queued; the first call of a loop
    tick schedules a flush, and calls made while a pipeline is in flight go in the next one.
    Errors are per command. Pass it wherever a redis client is expected in connectors
    (``window_open``, ``RedisConsent``, ``TokenBucket``...). ``aclose`` waits for the last flush
    (the underlying client stays open: it was injected).
    """

    def __init__(self, redis: Any, *, max_batch: int = 512) -> None:
        super().__init__(max_batch)
        self.redis = redis

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

    async def _run(self, commands: List[Any]) -> List[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            command(pipe)
        return await pipe.execute(raise_on_error=False)

"""A campaign's send rate shared by every worker process (GCRA reservation in Redis).

``reserve`` books the next free slot and returns how long to wait for it, so N workers together
send at most ``rate`` messages per second, evenly spaced.
"""
from __future__ import annotations

from typing import Any

from .. import keys

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.floor((tat + interval - now) / 1000) + 60000)
return tat - now
"""


class Pacer:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._script = redis.register_script(_RESERVE)

    async def reserve(self, campaign_id: str, rate: float) -> float:
        """Seconds to wait before this send; 0 when ``rate`` is 0 (unpaced)."""
        if rate <= 0:
            return 0.0
        wait_us = await self._script(keys=[keys.campaign_pace(campaign_id)], args=[int(1_000_000 / rate)])
        return int(wait_us) / 1_000_000

"""A campaign's send rate shared by every worker process (GCRA reservation in Redis).

``reserve`` books the next ``count`` free slots in one call and returns how long to wait for
each, so N workers together send at most ``rate`` messages per second, evenly spaced.
"""
from __future__ import annotations

from typing import Any, List, Mapping

from .. import keys

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + count * interval, 'PX', math.floor((tat + count * interval - now) / 1000) + 60000)
return tat - now
"""


def campaign_rate(campaign: Mapping[str, Any], default: float) -> float:
    """The campaign's messages per second: its own ``rate`` (0 = unpaced), else the default."""
    rate = campaign.get("rate")
    return default if rate is None or rate == "" else float(rate)


class Pacer:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._script = redis.register_script(_RESERVE)

    async def reserve(self, campaign_id: str, rate: float, count: int = 1) -> List[float]:
        """Seconds to wait before each of ``count`` sends; all 0 when ``rate`` is 0 (unpaced)."""
        if rate <= 0 or count <= 0:
            return [0.0] * max(count, 0)
        interval_us = int(1_000_000 / rate)
        first_us = int(await self._script(keys=[keys.campaign_pace(campaign_id)], args=[interval_us, count]))
        return [(first_us + i * interval_us) / 1_000_000 for i in range(count)]

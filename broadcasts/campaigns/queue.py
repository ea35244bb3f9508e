"""The campaign send queue: Redis streams (one per priority) read by a consumer group of workers.

An entry is a hint ("send record campaign:{campaign}:{wa_id}"), not the truth: the record's
atomic claim decides who sends, so duplicate entries (resume, lease recovery) are harmless.
Entries a crashed worker had read but not acknowledged are taken over with XAUTOCLAIM.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple

from redis.exceptions import ResponseError

from .. import keys

Entry = Tuple[str, str, str, str]  # (priority, entry id, campaign_id, wa_id)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CampaignQueue:
    def __init__(self, redis: Any, batch: int = 500) -> None:
        self.redis = redis
        self.batch = batch

    async def ensure_groups(self) -> None:
        for priority in keys.PRIORITIES:
            try:
                await self.redis.xgroup_create(keys.queue(priority), keys.QUEUE_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def enqueue(self, campaign_id: str, wa_ids: Iterable[str], priority: str = "normal") -> int:
        stream, count = keys.queue(priority), 0
        pipe = self.redis.pipeline(transaction=False)
        for wa_id in wa_ids:
            pipe.xadd(stream, {"campaign": campaign_id, "wa_id": wa_id})
            count += 1
            if count % self.batch == 0:
                await pipe.execute()
        await pipe.execute()
        return count

    async def read(self, consumer: str, count: int, block_ms: int = 500) -> List[Entry]:
        """Up to ``count`` entries, highest priority first; blocks up to ``block_ms`` when all are empty."""
        for priority in keys.PRIORITIES:
            got = await self.redis.xreadgroup(keys.QUEUE_GROUP, consumer, {keys.queue(priority): ">"}, count=count)
            if got:
                return self._entries(got)
        streams = {keys.queue(p): ">" for p in keys.PRIORITIES}
        got = await self.redis.xreadgroup(keys.QUEUE_GROUP, consumer, streams, count=count, block=block_ms)
        return self._entries(got or [])

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 500) -> List[Entry]:
        """Entries other (crashed) consumers read and never acknowledged."""
        out: List[Entry] = []
        for priority in keys.PRIORITIES:
            result = await self.redis.xautoclaim(keys.queue(priority), keys.QUEUE_GROUP, consumer,
                                                 min_idle_time=min_idle_ms, start_id="0-0", count=count)
            out += self._entries([(keys.queue(priority), result[1])])
        return out

    async def ack(self, priority: str, *entry_ids: str) -> None:
        if entry_ids:
            await self.redis.xack(keys.queue(priority), keys.QUEUE_GROUP, *entry_ids)

    async def backlog(self) -> int:
        total = 0
        for priority in keys.PRIORITIES:
            info: Optional[Any] = None
            try:
                info = await self.redis.xinfo_groups(keys.queue(priority))
            except ResponseError:
                continue
            for group in info:
                if _s(group.get("name") or group.get(b"name")) == keys.QUEUE_GROUP:
                    total += int(group.get("lag") or group.get(b"lag") or 0) + int(group.get("pending") or 0)
        return total

    @staticmethod
    def _entries(got: Any) -> List[Entry]:
        out: List[Entry] = []
        for stream, items in got:
            priority = _s(stream).rsplit(":", 1)[1]
            for entry_id, fields in items:
                if not fields:
                    continue
                f = {_s(k): _s(v) for k, v in fields.items()}
                out.append((priority, _s(entry_id), f.get("campaign", ""), f.get("wa_id", "")))
        return out

"""Which agents are online: an agent is online while at least one of their console websockets
is connected and heartbeating.

Each connection is a member of the sorted set `keys.online(agent)`, scored with the time its
heartbeat expires. A closed socket removes its member at once; a crashed process's members
simply expire (`ttl_s` after their last beat). Several tabs or replicas per agent are fine:
the agent is online while any member is alive.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable, Iterable, Set

from handoff import keys


class Presence:
    def __init__(self, redis: Any, ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self.ttl_s = ttl_s
        self._clock = clock

    @staticmethod
    def new_connection() -> str:
        return uuid.uuid4().hex

    async def beat(self, agent_id: str, connection: str) -> None:
        """Mark `connection` of `agent_id` alive for another `ttl_s` seconds."""
        now = self._clock()
        key = keys.online(agent_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {connection: now + self.ttl_s})
            pipe.expire(key, int(self.ttl_s) + 1)
            await pipe.execute()

    async def leave(self, agent_id: str, connection: str) -> None:
        await self._redis.zrem(keys.online(agent_id), connection)

    async def online(self, agent_ids: Iterable[str]) -> Set[str]:
        """The subset of `agent_ids` with at least one live connection."""
        ids = list(agent_ids)
        if not ids:
            return set()
        now = self._clock()
        async with self._redis.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.zcount(keys.online(agent_id), f"({now}", "+inf")
            counts = await pipe.execute()
        return {agent_id for agent_id, n in zip(ids, counts) if n}

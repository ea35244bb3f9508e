"""A Redis lease: at most one live holder of a named piece of work (SET NX PX + owner checks)."""
from __future__ import annotations

from typing import Any

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """Lease ``key`` for ``owner``; it lapses ``ttl_ms`` after the last renewal."""

    def __init__(self, redis: Any, key: str, owner: str, ttl_ms: int) -> None:
        self.redis, self.key, self.owner, self.ttl_ms = redis, key, owner, ttl_ms

    async def acquire(self) -> bool:
        """True when the lease was free and is now ours (or already ours)."""
        if await self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lease; False when it lapsed and someone else (or no one) holds it."""
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.owner, self.ttl_ms))

    async def release(self) -> bool:
        """Give the lease up if we still hold it."""
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.owner))

"""The webhook verification handshake (reference 1.1), as Meta's dashboard performs it.

``GET <callback>?hub.mode=subscribe&hub.challenge=<n>&hub.verify_token=<token>``; success is
HTTP 200 with the challenge echoed as the body. Retried a few times (the receiver may still be
starting); the outcome is returned, never raised.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class HandshakeResult:
    url: str
    ok: bool
    attempts: int
    status: int | None
    error: str | None
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "attempts": self.attempts, "status": self.status,
                "error": self.error, "at": self.at}


async def verify_callback(session: aiohttp.ClientSession, url: str, verify_token: str, *,
                          attempts: int, retry_s: float, timeout_s: float) -> HandshakeResult:
    """Try up to ``attempts`` times, doubling the wait between tries."""
    status: int | None = None
    error: str | None = None
    tries = max(1, attempts)
    for attempt in range(1, tries + 1):
        challenge = str(secrets.randbelow(10**10))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        try:
            async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                status = response.status
                body = (await response.text()).strip()
            if status == 200 and body == challenge:
                return HandshakeResult(url, True, attempt, status, None, time.time())
            error = f"HTTP {status}" if status != 200 else "the challenge was not echoed"
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:300]
        if attempt < tries:
            await asyncio.sleep(retry_s * 2 ** (attempt - 1))
    return HandshakeResult(url, False, tries, status, error, time.time())

"""Consent checks the sender asks before a message goes out.

The consent ledger (broadcasts, MongoDB) is the truth; its opt-outs are mirrored to
``keys.consent_optout(wa_id)`` so the check on the hot path is one Redis read. A marketing
opt-out (STOP keyword, ``user_preferences`` stop, a 131050 failure) refuses marketing and
campaign sends; replies in a conversation the customer started still go out.
"""
from __future__ import annotations

import time
from typing import Any, Optional, Protocol

from connectors import keys


class ConsentChecker(Protocol):
    async def allows(self, wa_id: str, *, category: str, campaign: bool = False) -> bool:
        """False when ``wa_id`` must not get a message of ``category`` (or a campaign message)."""
        ...


class AllowAll:
    """No consent records (tests, single-tenant demos): everything is allowed."""

    async def allows(self, wa_id: str, *, category: str, campaign: bool = False) -> bool:
        return True


class RedisConsent:
    """Reads the fast-path opt-out keys written by ``mark_opted_out``."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def allows(self, wa_id: str, *, category: str, campaign: bool = False) -> bool:
        if category != "marketing" and not campaign:
            return True
        return not await self.redis.exists(keys.consent_optout(wa_id))


async def mark_opted_out(redis: Any, wa_id: str, *, source: str = "api", at: Optional[float] = None) -> None:
    """Mirror a marketing opt-out (value: ``"<unix time> <source>"``)."""
    await redis.set(keys.consent_optout(wa_id), f"{at if at is not None else time.time():.0f} {source}")


async def mark_opted_in(redis: Any, wa_id: str) -> None:
    """Remove the mirrored opt-out."""
    await redis.delete(keys.consent_optout(wa_id))

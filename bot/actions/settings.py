"""The action server's settings, read from the environment once (at first use)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Optional


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "parley"
    #: Contacts carrying this tag (MongoDB `contacts.tags`) reach a human at their first fallback.
    handoff_vip_tag: str = "vip"
    #: Upper bound on any single Redis/MongoDB call made while a customer waits for a reply.
    io_timeout_s: float = 2.0
    support_email: str = "care@paidal.in"
    #: PARLEY_LOG_FORMAT (text | json): format and mask the action server's logs; "" leaves them alone.
    log_format: str = ""

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL", cls.redis_url),
            mongodb_url=env.get("MONGODB_URL", cls.mongodb_url),
            mongodb_db=env.get("MONGODB_DB", cls.mongodb_db),
            handoff_vip_tag=env.get("HANDOFF_VIP_TAG", cls.handoff_vip_tag).strip().lower(),
            io_timeout_s=float(env.get("ACTIONS_IO_TIMEOUT_S", cls.io_timeout_s)),
            support_email=env.get("SUPPORT_EMAIL", cls.support_email),
            log_format=env.get("PARLEY_LOG_FORMAT", ""),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (environment read on first call only)."""
    return Settings.from_env()

"""Options that make a redis-py asyncio client survive a Redis restart.

After a restart every pooled connection is stale; without these the first command on each one
fails ("Connection closed by server"). With them the client retries on a fresh connection, so
a restart costs a short delay instead of a failed handoff request or a lost tracker save.
Works with redis-py 4.6 (bot env) and 8.x (services env), with one gap in 4.6: pipelines and
MULTI/EXEC are not retried on ConnectionError, and its pure-Python parser does not notice a
pooled connection the server closed, so a pipeline that is the first command on a stale
connection fails once after a restart (8.x retries it); the bot env's one transaction
(bot/actions/consent.py) therefore tries twice itself."""
from __future__ import annotations

from typing import Any, Dict

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def restart_tolerant(timeout_s: float = 5.0) -> Dict[str, Any]:
    """Keyword arguments for `redis.asyncio.Redis(...)` / `from_url(...)`."""
    return {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 15,
    }

"""Liveness and readiness.

``/healthz`` (liveness) says only that the process answers: restart it if it does not.
``/readyz`` (readiness) runs the service's :class:`Check` s concurrently, each with a short
timeout: 200 when every required one passed, else 503; the JSON names each check and, for a
failed one, only the error's class (never a URL, host or token), e.g.
``{"ok": false, "checks": {"redis": {"ok": false, "error": "ConnectionError"}, ...}}``.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, Tuple

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[], Awaitable[Any]]  # raises (or answers False) when the dependency is not usable
    #: A failed optional check is reported but keeps the service ready (e.g. a write-behind store).
    required: bool = True


class NotReady(Exception):
    """A probe's answer was not the healthy one (e.g. an HTTP 409)."""


async def readiness(checks: Iterable[Check], timeout_s: float = CHECK_TIMEOUT_S) -> Tuple[bool, Dict[str, Any]]:
    """(ready, report) after running every check."""
    checks = list(checks)
    results = await asyncio.gather(*(_run(c, timeout_s) for c in checks))
    report = dict(zip((c.name for c in checks), results))
    ready = all(result["ok"] for check, result in zip(checks, results) if check.required)
    return ready, {"ok": ready, "checks": report}


async def _run(check: Check, timeout_s: float) -> Dict[str, Any]:
    started = time.perf_counter()
    try:
        if await asyncio.wait_for(check.probe(), timeout_s) is False:
            raise NotReady()
        result: Dict[str, Any] = {"ok": True}
    except asyncio.TimeoutError:
        result = {"ok": False, "error": "timeout"}
    except NotReady as exc:
        result = {"ok": False, "error": str(exc) or "not ready"}
    except Exception as exc:  # the class only: messages carry hosts, ports, URLs
        result = {"ok": False, "error": type(exc).__name__}
    if not check.required:
        result["required"] = False
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def redis_check(redis: Any, name: str = "redis") -> Check:
    """PING."""
    return Check(name, redis.ping)


def mongo_check(client: Any, name: str = "mongodb", required: bool = True) -> Check:
    """The ``ping`` command, through a motor client."""

    async def ping() -> Any:
        return await client.admin.command("ping")

    return Check(name, ping, required)


def http_check(name: str, get: Callable[[], Awaitable[Any]], required: bool = True) -> Check:
    """``get()`` returns a response with ``status_code``; ready when it is below 400."""

    async def probe() -> None:
        response = await get()
        if response.status_code >= 400:
            raise NotReady(f"HTTP {response.status_code}")

    return Check(name, probe, required)

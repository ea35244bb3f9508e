"""The Sanic adapter (sanic 21.12 in the bot env, 25.x in the services env): request metrics
and the ``/metrics``, ``/healthz`` and ``/readyz`` routes. Unauthenticated by design: they show
counts, route templates and dependency names, never customer data (restrict them at the
network edge in production, like any metrics port)."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, Tuple

from sanic import response

from .health import Check, readiness
from .metrics import CONTENT_TYPE, HTTP_DURATION, HTTP_REQUESTS, Sampler, render

UNMATCHED = "<unmatched>"  # 404s and the like: one label, whatever path was asked for


def instrument(target: Any, service: str) -> None:
    """Count and time the requests of ``target``: an app (every route), or a blueprint (its routes)."""
    # Bound series per (route, method, status): `labels()` costs 3x the update (the webhook's hot path).
    series: Dict[Tuple[str, str, str], Tuple[Any, Any]] = {}

    @target.middleware("request")
    async def parley_request_started(request: Any) -> None:
        request.ctx.parley_started = time.perf_counter()

    @target.middleware("response")
    async def parley_request_done(request: Any, answer: Any) -> None:
        if answer is None:  # websockets
            return
        route = f"/{request.route.path}" if getattr(request, "route", None) is not None else UNMATCHED
        key = (route, request.method, str(answer.status))
        bound = series.get(key)
        if bound is None:
            bound = series[key] = (HTTP_REQUESTS.labels(service, *key), HTTP_DURATION.labels(service, *key[:2]))
        bound[0].inc()
        started = getattr(request.ctx, "parley_started", None)
        if started is not None:
            bound[1].observe(time.perf_counter() - started)


def add_routes(target: Any, service: str, *, checks: Callable[[], Iterable[Check]] = lambda: (),
               samplers: Callable[[], Iterable[Sampler]] = lambda: ()) -> None:
    """``GET /metrics``, ``/healthz`` and ``/readyz`` on an app or blueprint. ``checks`` and
    ``samplers`` are called per request (clients exist only once the server started)."""

    async def metrics(_: Any) -> Any:
        return response.raw(await render(samplers()), content_type=CONTENT_TYPE)

    async def healthz(_: Any) -> Any:
        return response.json({"ok": True, "service": service})

    async def readyz(_: Any) -> Any:
        ready, report = await readiness(checks())
        return response.json({**report, "service": service}, status=200 if ready else 503)

    for handler in (metrics, healthz, readyz):
        target.add_route(handler, f"/{handler.__name__}", methods=["GET"], name=f"parley_{handler.__name__}")

"""The Sanic adapter in a real server, in both envs (sanic 21.12 under Rasa, 25.x for the
services): requests counted and timed by route template, never by raw path; /metrics runs the
samplers and survives a failing one; /readyz answers 503 naming the failed check, nothing more."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, AsyncIterator

import httpx
from prometheus_client import REGISTRY
from sanic import Sanic, response

from devstack import free_port
from observability.health import Check
from observability.http import add_routes, instrument
from observability.metrics import STREAM_LENGTH


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    app.config.TOUCHUP = False  # several apps in one process
    port = free_port()
    server = await app.create_server("127.0.0.1", port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_by_route_template_and_probes_answer() -> None:
    service = f"svc{uuid.uuid4().hex[:6]}"
    app = Sanic(f"obs_{service}")
    instrument(app, service)
    redis_up = {"ok": True}

    @app.get("/api/tickets/<ticket_id:str>")
    async def ticket(_: Any, ticket_id: str) -> Any:
        return response.json({"id": ticket_id}, status=404 if ticket_id == "gone" else 200)

    async def ping() -> bool:
        if not redis_up["ok"]:
            raise ConnectionError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")
        return True

    async def slow() -> None:
        await asyncio.sleep(30)

    async def stream_lengths() -> None:
        STREAM_LENGTH.labels(f"{service}:stream").set(7)

    async def broken() -> None:
        raise RuntimeError("store down")

    add_routes(app, service, checks=lambda: [Check("redis", ping), Check("rasa", slow, required=False)],
               samplers=lambda: [stream_lengths, broken])
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        for ticket_id in ("t-1", "t-2", "gone"):
            await http.get(f"/api/tickets/{ticket_id}")
        assert (await http.get("/no/such/919876543210")).status_code == 404
        live = await http.get("/healthz")
        assert live.status_code == 200 and live.json() == {"ok": True, "service": service}

        ready = await http.get("/readyz")  # the optional check timing out does not make it unready
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["rasa"] == {"ok": False, "error": "timeout", "required": False,
                                                  "ms": ready.json()["checks"]["rasa"]["ms"]}
        redis_up["ok"] = False
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["ok"] is False and down.json()["checks"]["redis"]["error"] == "ConnectionError"
        assert "10.0.0.7" not in down.text  # the error's class, never its message

        scraped = await http.get("/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    route = "/api/tickets/<ticket_id:str>"
    assert sample("parley_http_requests_total", service=service, route=route, method="GET", status="200") == 2
    assert sample("parley_http_requests_total", service=service, route=route, method="GET", status="404") == 1
    assert sample("parley_http_requests_total", service=service, route="<unmatched>", method="GET",
                  status="404") == 1
    assert sample("parley_http_request_duration_seconds_count", service=service, route=route, method="GET") == 3
    assert sample("parley_http_requests_total", service=service, route="/readyz", method="GET", status="503") == 1
    assert "t-1" not in text and "919876543210" not in text  # templates, not raw paths
    assert f'parley_stream_length{{stream="{service}:stream"}} 7.0' in text
    assert sample("parley_metrics_sampler_errors_total", sampler="broken") >= 1

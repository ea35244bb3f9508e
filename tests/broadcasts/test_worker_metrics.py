"""A ``python -m broadcasts worker`` process serves its own Prometheus metrics when asked to."""
from __future__ import annotations

import os
import signal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from broadcasts.settings import Settings
from devstack import free_port

from .harness import wait_for, worker_process
from .helpers import SALE_VARS, import_contacts, template_id

N = 12


def test_metrics_endpoint_is_off_unless_configured():
    assert Settings.from_env({}).worker_metrics_port == 0
    on = Settings.from_env({"BROADCASTS_WORKER_METRICS_PORT": "9464"})
    assert (on.worker_metrics_port, on.worker_metrics_host) == (9464, "127.0.0.1")


async def test_worker_process_exports_its_sends(live_no_workers):
    live = live_no_workers
    ctx, settings = live.ctx, live.settings
    await import_contacts(ctx, N)
    port = free_port()
    worker = worker_process(settings, f"metrics-{os.getpid()}", "--metrics-port", str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            async def scrape():
                try:
                    response = await http.get("/metrics")
                except httpx.TransportError:
                    return None  # not listening yet
                return _sent(response.text, settings.phone_number_id)

            assert await wait_for(lambda: _is_zero(scrape), 30)  # up, and nothing sent yet
            campaign = await ctx.service.create({"template_id": await template_id(ctx, "spring_sale"), "rate": 0,
                                                 "variables": SALE_VARS, "segment": {"filter": {}}})
            await ctx.service.start(campaign["_id"])

            async def all_counted():
                return await scrape() == N
            assert await wait_for(all_counted, 30), await scrape()
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)


async def _is_zero(scrape):
    return await scrape() == 0


def _sent(text: str, phone_number_id: str) -> float:
    """``parley_sends_total{result="sent", purpose="campaign"}`` of the number (0 before the first)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "parley_sends_total" and sample.labels == {
                    "phone_number_id": phone_number_id, "purpose": "campaign", "result": "sent"}:
                return sample.value
    return 0.0

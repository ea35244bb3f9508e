"""Long-running tasks of a broadcasts process: event consumer, CRM webhook dispatcher and sender,
send workers, scheduler."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, List, Optional

from .campaigns.scheduler import CampaignScheduler
from .campaigns.worker import Worker, make_purpose
from .consumer import EventConsumer
from .context import Context

log = logging.getLogger(__name__)


class Runtime:
    """Starts and stops the background parts of one process (tasks tracked, cancelled on stop)."""

    def __init__(self, ctx: Context, *, workers: int = 1, consumer: bool = True, scheduler: bool = True) -> None:
        self.ctx = ctx
        self.stop_event = asyncio.Event()
        self.tasks: List[asyncio.Task] = []
        self.n_workers, self.with_consumer, self.with_scheduler = workers, consumer, scheduler
        self.scheduler: Optional[CampaignScheduler] = None
        self.workers: List[Worker] = []

    async def start(self) -> None:
        name = self.ctx.settings.consumer_name
        if self.with_consumer:
            consumer = EventConsumer(self.ctx, name)
            self.tasks.append(asyncio.create_task(
                _supervised("event consumer", lambda: consumer.run(self.stop_event), self.stop_event)))
            for label, loop in self.ctx.webhooks.loops(self.ctx.redis, self.ctx.settings, name):
                self.tasks.append(asyncio.create_task(
                    _supervised(label, lambda loop=loop: loop.run(self.stop_event), self.stop_event)))
        for i in range(self.n_workers):
            worker = Worker(self.ctx, f"{name}-w{i}", self.ctx.settings.worker_concurrency, make_purpose())
            self.workers.append(worker)
            self.tasks.append(asyncio.create_task(_supervised(
                f"worker {i}", lambda w=worker: w.run(self.stop_event, self.ctx.settings.queue_reclaim_ms),
                self.stop_event)))
        if self.with_scheduler:
            self.scheduler = CampaignScheduler(self.ctx)
            self.scheduler.start()
        for task in self.tasks:
            task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        self.stop_event.set()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.tasks:
            done, pending = await asyncio.wait(self.tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def _supervised(name: str, run: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run a background loop until `stop`, restarting it with backoff when it raises.

    A Redis restart or a MongoDB outage makes the loops raise; without this the process stayed
    up with no event consumer (status roll-ups, follow-ups and STOP opt-outs silently stopped).
    The loops acknowledge only after their effect, so a restart re-reads what was pending."""
    delay = 0.5
    while not stop.is_set():
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - any failure of the loop is retried, never fatal
            log.exception("%s failed; restarting in %.1f s", name, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, 10.0)


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task died", exc_info=task.exception())


async def run_forever(ctx: Context, **options: Any) -> None:
    runtime = Runtime(ctx, **options)
    await runtime.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runtime.stop()

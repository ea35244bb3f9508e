"""Tracked timers and tasks: everything the sandbox schedules can be cancelled at once.

Status emission, template review, webhook retries and chaos all run through ``Timers`` (a set
of ``loop.call_later`` handles), and long-running coroutines (delivery workers, handshakes)
through ``Tasks``; reset and shutdown cancel both.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("sandbox")


class Timers:
    """``call_later`` with bookkeeping; callbacks are plain sync functions."""

    def __init__(self) -> None:
        self._handles: set[asyncio.TimerHandle] = set()

    def __len__(self) -> int:
        return len(self._handles)

    def call_later(self, delay_s: float, callback: Callable[..., None], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            self._handles.discard(handle)  # type: ignore[arg-type]
            try:
                callback(*args)
            except Exception:
                log.exception("scheduled callback %s failed", getattr(callback, "__name__", callback))

        handle = loop.call_later(max(0.0, delay_s), fire)
        self._handles.add(handle)

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()


class Tasks:
    """Created tasks, kept so they can be awaited or cancelled on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

"""Background tasks' lives: :func:`start_task` names a task and logs its crash (by name) the moment
it dies, so none is left for the garbage collector's "Task exception was never retrieved", whoever
drops the task; :func:`stop_tasks` cancels and waits, insisting on tasks that ignore a cancel."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine, Iterable, Optional, Set

log = logging.getLogger(__name__)


def start_task(coro: Coroutine[Any, Any, Any], name: str) -> "asyncio.Task[Any]":
    """Run ``coro`` as a background task named ``name`` whose crash is logged when it happens."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(log_crash)
    return task


def crash_of(task: "asyncio.Task[object]") -> Optional[BaseException]:
    """The exception a finished task died with (read, so asyncio does not report it again), if any."""
    if not task.done() or task.cancelled():
        return None
    return task.exception()


def log_crash(task: "asyncio.Task[object]") -> None:
    exc = crash_of(task)
    if exc is not None:
        log.warning("%s stopped: %r", task.get_name(), exc)


async def stop_tasks(tasks: Iterable[Optional["asyncio.Task[Any]"]], timeout_s: float = 5.0) -> Set["asyncio.Task[Any]"]:
    """Cancel ``tasks`` (``None`` entries are skipped) and wait up to ``timeout_s`` for them to
    end; returns (and logs) those still running then.

    A task still running after 0.1 s is cancelled again: CPython 3.11's ``asyncio.wait_for``
    (which redis-py awaits to send a command when a socket timeout is set) drops a cancellation
    that arrives just as the command is sent, and the task would otherwise run on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    running = {t for t in tasks if t is not None}
    while running and loop.time() < deadline:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=min(0.1, deadline - loop.time()))
    for task in running:
        log.warning("%s still running %.0f s after being cancelled", task.get_name(), timeout_s)
    return running

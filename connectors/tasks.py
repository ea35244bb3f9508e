"""Background tasks' ends: a task that died with an exception has it read and logged (by name),
never left for the garbage collector's "Task exception was never retrieved"."""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable, Optional

log = logging.getLogger(__name__)


def crash_of(task: "asyncio.Task[object]") -> Optional[BaseException]:
    """The exception a finished task died with (read, so asyncio does not report it again), if any."""
    if not task.done() or task.cancelled():
        return None
    return task.exception()


def log_crash(task: "asyncio.Task[object]") -> None:
    exc = crash_of(task)
    if exc is not None:
        log.warning("%s stopped: %r", task.get_name(), exc)


async def stop_tasks(tasks: Iterable["asyncio.Task[object]"], timeout_s: float = 5.0) -> None:
    """Cancel ``tasks``, wait up to ``timeout_s`` for them, and log those that had crashed."""
    pending = [t for t in tasks if t is not None]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)
    for task in pending:
        log_crash(task)

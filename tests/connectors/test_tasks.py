"""Background tasks end visibly: a crash is logged by the task's name as it happens, whoever drops
the task, and asyncio never has to report "Task exception was never retrieved" from the garbage
collector (on CPython 3.11 that report can break pytest itself: tests/test_pytest_guards.py)."""
from __future__ import annotations

import asyncio
import gc
import logging

from connectors.tasks import start_task, stop_tasks


async def _crashes() -> None:
    raise ConnectionError("Connection closed by server.")


async def _runs_forever() -> None:
    await asyncio.Event().wait()


async def test_a_crash_is_logged_when_it_happens_even_if_the_task_is_dropped(caplog):
    caplog.set_level(logging.WARNING)
    crashed = start_task(_crashes(), "fanout")
    await asyncio.sleep(0.01)

    assert [r.getMessage() for r in caplog.records if r.name == "connectors.tasks"] == [
        "fanout stopped: ConnectionError('Connection closed by server.')"]
    del crashed  # as a consumer does when it replaces a dead fan-out task
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_stopping_cancels_running_tasks_and_logs_nothing_for_them(caplog):
    caplog.set_level(logging.WARNING)
    running = start_task(_runs_forever(), "partition-3")
    await asyncio.sleep(0)

    await stop_tasks([running, None])

    assert running.cancelled()
    assert not [r for r in caplog.records if r.name == "connectors.tasks"]


async def _swallows_one_cancellation() -> None:
    # What CPython 3.11's asyncio.wait_for does when a cancel meets a completed send (redis-py).
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pass
    await asyncio.Event().wait()


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again():
    task = asyncio.get_running_loop().create_task(_swallows_one_cancellation(), name="inbound-ticker")
    await asyncio.sleep(0)

    await stop_tasks([task], timeout_s=30)

    assert task.cancelled()  # not left running once the timeout is over

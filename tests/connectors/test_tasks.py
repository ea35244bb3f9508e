"""Background tasks end visibly: a crash is logged by the task's name when it is stopped, and
asyncio never has to report "Task exception was never retrieved" from the garbage collector."""
from __future__ import annotations

import asyncio
import gc
import logging

from connectors.tasks import stop_tasks


async def _crashes() -> None:
    raise ConnectionError("Connection closed by server.")


async def _runs_forever() -> None:
    await asyncio.Event().wait()


async def test_stopping_logs_a_crashed_task_and_cancels_a_running_one(caplog):
    caplog.set_level(logging.WARNING)
    crashed = asyncio.get_running_loop().create_task(_crashes(), name="fanout")
    running = asyncio.get_running_loop().create_task(_runs_forever(), name="partition-3")
    await asyncio.sleep(0)

    await stop_tasks([crashed, running])

    assert running.cancelled()
    assert [r.getMessage() for r in caplog.records if r.name == "connectors.tasks"] == [
        "fanout stopped: ConnectionError('Connection closed by server.')"]
    del crashed, running
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]

"""The action server's part of the trace (observability.trace): every action runs with the trace
id of the customer message that led to it, derived from that message's wamid as the connector
derives it, so its log lines join the connector's, the Rasa turn's and the sender's.

rasa_sdk has no hook around an action call, so :func:`install` wraps ``ActionExecutor.run`` (the
one entry every action call passes through) once, from the package's entrypoint."""
from __future__ import annotations

import functools
from typing import Any, Mapping

from rasa_sdk.executor import ActionExecutor

from observability import trace


def trace_of(action_call: Mapping[str, Any]) -> str:
    """The trace id of the call's latest user message (its ``user`` event's ``message_id``: Rasa's
    ``latest_message`` has none), or "" (then nothing is bound)."""
    tracker = action_call.get("tracker") or {}
    latest_user = next((e for e in reversed(tracker.get("events") or []) if e.get("event") == "user"), {})
    message_id = latest_user.get("message_id") or ""
    return trace.for_message(message_id) if message_id else ""


def install() -> None:
    run = ActionExecutor.run
    if getattr(run, "parley_traced", False):
        return

    @functools.wraps(run)
    async def traced_run(self: ActionExecutor, action_call: Any) -> Any:
        with trace.bound(trace_of(action_call)):
            return await run(self, action_call)

    traced_run.parley_traced = True  # type: ignore[attr-defined]
    ActionExecutor.run = traced_run  # type: ignore[method-assign]

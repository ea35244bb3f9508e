"""The trace id of the message being handled, in a context variable.

One inbound WhatsApp message gets one trace id, derived from its wamid (:func:`for_message`),
so a Meta retry of the same message carries the same id and anyone holding a wamid can compute
it; the wamid itself is not logged (a real wamid encodes the customer's number). The fan-out
stamps it on the message's partition entry (field ``trace``), events carry it
(``connectors.events.Event.trace``), and every log record made while it is bound carries it
(``observability.logs``), in the connector, the Rasa turn, the sender, the action server
(bot/actions/tracing.py, from the same wamid) and the handoff inbox.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import uuid
from typing import Iterator

_TRACE_ID: "contextvars.ContextVar[str]" = contextvars.ContextVar("parley_trace_id", default="")


def current() -> str:
    """The bound trace id, or ``""``."""
    return _TRACE_ID.get()


def for_message(wamid: str) -> str:
    """32 hex digits: stable for a wamid (a fresh random id without one)."""
    if not wamid:
        return uuid.uuid4().hex
    return hashlib.blake2b(wamid.encode("utf-8", "replace"), digest_size=16).hexdigest()


@contextlib.contextmanager
def bound(trace_id: str) -> Iterator[str]:
    """Bind ``trace_id`` for the enclosed code (and the tasks it creates); ``""`` keeps the current one."""
    if not trace_id:
        yield current()
        return
    token = _TRACE_ID.set(trace_id)
    try:
        yield trace_id
    finally:
        _TRACE_ID.reset(token)

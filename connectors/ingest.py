"""The webhook POST path: check, then append the raw body to an inbound stream, then 200.

:func:`receive` is framework-free (bytes and headers in, an HTTP status out) so the Rasa channel
and the benchmark run the same code. Nothing is parsed into domain objects and no bot work
happens before the answer: the consumer (connectors.consumer) does that from the stream.
The one look inside a body is :func:`is_status_only`: bodies made solely of delivery statuses go
to ``keys.INBOUND_STATUS_STREAM``, every other body to ``keys.INBOUND_STREAM``, so the fan-out can
serve customer messages first while a campaign's statuses pile up.

:class:`GroupCommitAppender` is the durability half. Requests hand their body to it and wait; one
flusher task sends every body queued so far as one batch (a Lua script doing one ``XADD`` per
body, to either stream: one Redis round trip per event-loop tick, however many requests are in
flight) and wakes each request only after *its* entry is stored. Measured: an awaited ``XADD``
per request runs at ~39 % of a bare Sanic endpoint, group commit at ~97 %. If Redis fails or is
too slow the request gets 503, never a 200 for a body that is not stored (Meta retries anything
but 200).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, List, Optional, Tuple

from observability.metrics import WEBHOOKS

from . import keys
from .signature import SignatureCheck, check_signature

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024  # Meta's documented maximum payload
# One command per batch: packing and parsing N pipelined XADDs in Python cost ~3x the CPU of
# one EVALSHA carrying N bodies (measured in bench/webhook_ingest.py). A script is atomic, so
# a batch is stored entirely or not at all. ARGV alternates the key's index and the body.
_APPEND_ALL = """
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids + 1] = redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'body', ARGV[i + 1]) end
return ids
"""
_MESSAGES, _STATUSES = 1, 2  # KEYS index of each stream in _APPEND_ALL
# What a change's value may hold besides its statuses for the body to stay status-only.
_STATUS_VALUE_KEYS = frozenset({"messaging_product", "metadata", "statuses"})
OK, BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, TOO_LARGE, UNAVAILABLE = 200, 400, 401, 403, 413, 503
#: ``parley_webhooks_total{result}`` per answer (bound once: every series exists from the start).
RESULTS = {OK: "accepted", BAD_REQUEST: "not_json", UNAUTHORIZED: "missing_signature",
           FORBIDDEN: "bad_signature", TOO_LARGE: "too_large", UNAVAILABLE: "store_unavailable"}
_COUNTED = {status: WEBHOOKS.labels(result) for status, result in RESULTS.items()}


class AppendFailed(Exception):
    """The body could not be stored (Redis down or too slow): answer 503."""


_Queued = Tuple[int, bytes, "asyncio.Future[str]"]


class GroupCommitAppender:
    """Append bodies to the message or the status stream, many concurrent callers per round trip."""

    def __init__(self, redis: Any, stream: str = keys.INBOUND_STREAM, *,
                 status_stream: str = keys.INBOUND_STATUS_STREAM, timeout_s: float = 2.0,
                 max_batch: int = 512) -> None:
        self._redis = redis
        self._streams = [stream, status_stream]  # KEYS of _APPEND_ALL, in _MESSAGES/_STATUSES order
        self._timeout_s = timeout_s
        self._max_batch = max_batch
        self._queue: List[_Queued] = []
        self._flusher: Optional["asyncio.Task[None]"] = None
        self._script = redis.register_script(_APPEND_ALL)
        self.batches = 0  # observability (the benchmark reports the mean batch size)
        self.appended = 0

    async def append(self, body: bytes, *, status_only: bool = False) -> str:
        """Store ``body`` durably (in the status stream if ``status_only``); its entry id.
        Raises :class:`AppendFailed`."""
        future: "asyncio.Future[str]" = asyncio.get_running_loop().create_future()
        self._queue.append((_STATUSES if status_only else _MESSAGES, body, future))
        if self._flusher is None:
            # The task first runs on the next loop tick, after every request already parsed in
            # this tick has queued its body: that is the group.
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def close(self) -> None:
        """Wait for queued bodies to be flushed (bounded by the timeout)."""
        task = self._flusher
        if task is not None:
            await asyncio.wait({task}, timeout=self._timeout_s + 1)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
                await self._write(batch)
        finally:
            self._flusher = None

    async def _write(self, batch: List[_Queued]) -> None:
        try:
            call = self._script(keys=self._streams, args=[arg for key, body, _ in batch for arg in (key, body)])
            ids = await asyncio.wait_for(call, self._timeout_s)
        except Exception as exc:  # any failure: none of these requests may be answered 200
            log.warning("inbound append failed for %d bodies: %r", len(batch), exc)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(AppendFailed(repr(exc)))
            return
        self.batches += 1
        self.appended += len(batch)
        for (_, _, future), entry_id in zip(batch, ids):
            if not future.done():  # the caller may have gone away (client disconnect)
                future.set_result(entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id))


def looks_like_json_object(body: bytes) -> bool:
    """Cheap validity check without building objects: a UTF-8 ``{...}`` document."""
    stripped = body.strip()
    if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
        return False
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: Larger bodies are not decoded to be sorted (a status webhook is ~1 KB per status and Meta
#: batches a few): they keep the message stream, where they are handled all the same.
STATUS_SORT_MAX_BYTES = 64 * 1024


def is_status_only(body: bytes) -> bool:
    """Whether the body is made solely of delivery statuses: every change is a ``messages`` field
    whose value holds a non-empty ``statuses`` list of objects and nothing else but
    ``messaging_product``/``metadata``. Anything else (a message, an echo, ``errors``, another
    field, an odd shape, invalid JSON) is not, and keeps its place in the message stream."""
    if b'"statuses"' not in body or len(body) > STATUS_SORT_MAX_BYTES:  # never decoded: the message stream
        return False
    try:
        changes = [change for entry in json.loads(body)["entry"] for change in entry["changes"]]
        return bool(changes) and all(
            change["field"] == "messages" and _STATUS_VALUE_KEYS.issuperset(change["value"])
            and bool(change["value"]["statuses"]) and all(isinstance(s, dict) for s in change["value"]["statuses"])
            for change in changes)
    except (ValueError, RecursionError, KeyError, TypeError):  # ValueError covers JSON and UTF-8 errors
        return False


async def receive(appender: GroupCommitAppender, app_secret: str, body: bytes,
                  signature: Optional[str], content_length: Optional[int] = None) -> int:
    """Handle one webhook POST; the HTTP status to answer (200 only once the body is stored)."""
    status = await _receive(appender, app_secret, body, signature, content_length)
    _COUNTED[status].inc()
    if status != OK:
        log.info("webhook refused: %s (HTTP %d, %d bytes)", RESULTS[status], status, len(body))
    return status


async def _receive(appender: GroupCommitAppender, app_secret: str, body: bytes,
                   signature: Optional[str], content_length: Optional[int]) -> int:
    if len(body) > MAX_BODY_BYTES or (content_length or 0) > MAX_BODY_BYTES:
        return TOO_LARGE
    check = check_signature(app_secret, body, signature)
    if check is not SignatureCheck.VALID:
        return check.value
    if not looks_like_json_object(body):
        return BAD_REQUEST
    try:
        await appender.append(body, status_only=is_status_only(body))
    except AppendFailed:
        return UNAVAILABLE
    return OK

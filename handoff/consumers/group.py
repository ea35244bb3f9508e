"""A Redis-stream consumer-group loop with at-least-once delivery.

The handler gets a batch of events; entries are acknowledged only after it returns. If it
raises (MongoDB down, ...), the loop backs off and hands it the same entries again (they stay
pending) until it succeeds: a delay, never a loss. Entries left pending by a crashed consumer
are taken over after `claim_idle_ms`.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Sequence

from connectors.events import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    stream: str
    id: str
    event: Event


Handler = Callable[[List[Entry]], Awaitable[None]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(fields: Any) -> Event:
    """Bad input never stops the loop: an unreadable entry becomes an ignorable event."""
    try:
        return Event.from_fields(fields or {})
    except (KeyError, ValueError, TypeError):
        return Event("malformed", "")


class GroupConsumer:
    def __init__(self, redis: Any, streams: Sequence[str], group: str, consumer: str,
                 handler: Handler, *, start_id: str = "0", batch: int = 200,
                 block_ms: int = 1000, claim_idle_ms: int = 60_000,
                 max_backoff_s: float = 10.0) -> None:
        self._redis = redis
        self._streams = list(streams)
        self._group = group
        self._consumer = consumer
        self._handler = handler
        self._start_id = start_id
        self._batch = batch
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._max_backoff_s = max_backoff_s
        self._running = True

    def stop(self) -> None:
        """Finish the current batch and return (blocking reads last at most `block_ms`)."""
        self._running = False

    async def ensure_groups(self) -> None:
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, self._group, id=self._start_id, mkstream=True)
            except Exception as exc:  # BUSYGROUP: it exists already
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self) -> None:
        """Consume until stopped (or cancelled)."""
        backlog = True  # first deliver what this consumer left pending (e.g. before a restart)
        backoff = 0.2
        while self._running:
            try:
                if backlog:
                    await self.ensure_groups()  # again after a failure: Redis may have lost them
                    await self._take_over_idle()
                entries = await self._read("0" if backlog else ">")
                if backlog and not entries:
                    backlog = False
                    continue
                if entries:
                    await self._handler(entries)
                    await self._ack(entries)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: batch failed; retrying in %.1fs", self._group, backoff)
                backlog = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def _read(self, position: str) -> List[Entry]:
        reply = await self._redis.xreadgroup(
            self._group, self._consumer, {s: position for s in self._streams},
            count=self._batch, block=None if position == "0" else self._block_ms)
        entries: List[Entry] = []
        for stream, items in reply or []:
            for entry_id, fields in items:
                entries.append(Entry(_text(stream), _text(entry_id), _parse(fields)))
        return entries

    async def _ack(self, entries: List[Entry]) -> None:
        by_stream: Dict[str, List[str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream, ids in by_stream.items():
                pipe.xack(stream, self._group, *ids)
            await pipe.execute()

    async def _take_over_idle(self) -> None:
        for stream in self._streams:
            await self._redis.xautoclaim(stream, self._group, self._consumer,
                                         min_idle_time=self._claim_idle_ms, count=self._batch)

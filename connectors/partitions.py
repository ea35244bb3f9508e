"""Per-contact ordering across replicas: contacts are hashed onto N partition streams, and each
partition is leased to exactly one replica at a time, which reads it through a consumer group.

* :func:`partition_of` maps a contact to a partition with CRC32 (stable across processes).
  N must be the same on every replica; change it only with the inbound pipeline drained.
* :class:`PartitionWorker` processes one partition: it first re-reads the partition's pending
  entries (every holder uses the same consumer name, so a new holder sees the previous one's
  unacknowledged entries), then new ones. Within a batch, contacts run concurrently and each
  contact's entries strictly in order; an entry is ``XACK``-ed (and deleted) after its effect.
  A failing entry is retried with backoff and, past the retry budget, dead-lettered.
* :class:`PartitionSet` keeps this replica's fair share of leases: it heartbeats in a sorted
  set of live replicas, holds ``ceil(N / live)`` partitions, renews them, sheds extras
  gracefully (the worker finishes its batch, then the lease is released) and picks up lapsed ones.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import zlib
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from observability.metrics import INBOUND_DEAD_LETTERS

from . import events, keys
from .events import Event
from .lease import Lease
from .tasks import start_task, stop_tasks

log = logging.getLogger(__name__)

Entry = Tuple[str, Dict[str, str]]
Processor = Callable[[int, str, Dict[str, str]], Awaitable[None]]
HOLDER = "holder"  # the one consumer name every lease holder uses on a partition stream


def partition_of(contact: str, count: int) -> int:
    return zlib.crc32(contact.encode()) % count


async def ensure_group(redis: Any, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except Exception as exc:  # BUSYGROUP: it exists already
        if "BUSYGROUP" not in str(exc):
            raise


def decode(fields: Optional[Dict[Any, Any]]) -> Dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
            for k, v in (fields or {}).items()}


class PartitionWorker:
    """Reads one partition stream while this replica holds its lease."""

    def __init__(self, redis: Any, index: int, process: Processor, *, batch: int = 64, block_ms: int = 500,
                 max_attempts: int = 5, retry_base_s: float = 0.2) -> None:
        self.redis, self.index, self.process = redis, index, process
        self.stream = keys.inbound_partition(index)
        self.batch, self.block_ms = batch, block_ms
        self.max_attempts, self.retry_base_s = max_attempts, retry_base_s
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await ensure_group(self.redis, self.stream, keys.PARTITION_GROUP)
        cursor = "0"  # first our (i.e. any previous holder's) pending entries, in order
        while not self.stop.is_set():
            block = None if cursor == "0" else self.block_ms
            resp = await self.redis.xreadgroup(keys.PARTITION_GROUP, HOLDER, {self.stream: cursor},
                                               count=self.batch, block=block)
            entries = [(_text(i), decode(f)) for i, f in (resp[0][1] if resp else [])]
            if cursor == "0" and not entries:
                cursor = ">"
                continue
            await self._run_batch(entries)

    async def _run_batch(self, entries: List[Entry]) -> None:
        chains: Dict[str, List[Entry]] = {}
        for entry in entries:
            chains.setdefault(entry[1].get("contact", ""), []).append(entry)
        await asyncio.gather(*(self._run_chain(chain) for chain in chains.values()))

    async def _run_chain(self, chain: List[Entry]) -> None:
        for entry_id, fields in chain:
            if fields:  # an entry deleted while pending comes back without fields
                await self._process_with_retry(entry_id, fields)
            pipe = self.redis.pipeline(transaction=True)
            pipe.xack(self.stream, keys.PARTITION_GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()

    async def _process_with_retry(self, entry_id: str, fields: Dict[str, str]) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.process(self.index, entry_id, fields)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("partition %d entry %s attempt %d failed: %r", self.index, entry_id, attempt, exc)
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_base_s * 2 ** (attempt - 1))
        # Keep the contact's queue moving: park the item where an operator can replay it.
        log.error("partition %d entry %s dead-lettered after %d attempts", self.index, entry_id, self.max_attempts)
        event = Event(events.MESSAGE_DEAD_LETTERED, f"p{self.index}-{entry_id}",
                      {"contact": fields.get("contact", ""), "partition": self.index})
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(keys.INBOUND_DEAD_STREAM, fields)
        pipe.xadd(keys.EVENTS_STREAM, event.to_fields())
        await pipe.execute()
        INBOUND_DEAD_LETTERS.inc()


class PartitionSet:
    """This replica's share of the partition leases and their workers."""

    def __init__(self, redis: Any, name: str, count: int, process: Processor, *, lease_ms: int = 6000,
                 worker_options: Optional[Dict[str, Any]] = None) -> None:
        self.redis, self.name, self.count, self.process = redis, name, count, process
        self.lease_ms = lease_ms
        self.worker_options = worker_options or {}
        self.workers: Dict[int, Tuple[PartitionWorker, "asyncio.Task[None]", Lease]] = {}

    async def tick(self) -> None:
        """Heartbeat, renew, shed, restart and acquire; call every ~lease_ms / 3."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(keys.INBOUND_CONSUMERS, {self.name: now + self.lease_ms / 1000})
        pipe.zremrangebyscore(keys.INBOUND_CONSUMERS, "-inf", now)
        pipe.zcard(keys.INBOUND_CONSUMERS)
        live = max(1, int((await pipe.execute())[2]))
        fair = math.ceil(self.count / live)
        for index, (worker, task, lease) in list(self.workers.items()):
            if task.done():
                if worker.stop.is_set() or not await lease.renew():
                    await lease.release()
                    del self.workers[index]
                else:
                    self._start(index, lease)  # crashed (e.g. Redis blip): same lease, new worker
            elif not await lease.renew():
                log.warning("lost the lease of partition %d", index)
                task.cancel()
                del self.workers[index]
        active = [i for i, (w, _, _) in self.workers.items() if not w.stop.is_set()]
        for index in active[fair:]:
            self.workers[index][0].stop.set()  # graceful: it finishes its batch first
        if len(active) < fair:
            free = [i for i in range(self.count) if i not in self.workers]
            random.shuffle(free)
            for index in free:
                if len(active) >= fair:
                    break
                lease = Lease(self.redis, keys.partition_lease(index), self.name, self.lease_ms)
                if await lease.acquire():
                    self._start(index, lease)
                    active.append(index)

    def _start(self, index: int, lease: Lease) -> None:
        worker = PartitionWorker(self.redis, index, self.process, **self.worker_options)
        task = start_task(worker.run(), f"partition-{index}")
        self.workers[index] = (worker, task, lease)

    async def close(self) -> None:
        """Stop every worker (cancel), release the leases, leave the live set."""
        await stop_tasks(task for _, task, _ in self.workers.values())
        for _, _, lease in self.workers.values():
            try:
                await lease.release()
            except Exception as exc:
                log.warning("lease release failed: %r", exc)
        self.workers.clear()
        try:
            await self.redis.zrem(keys.INBOUND_CONSUMERS, self.name)
        except Exception as exc:
            log.warning("leaving the live set failed: %r", exc)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

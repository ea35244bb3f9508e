"""The inbound consumer: from raw webhook bodies on ``keys.INBOUND_STREAM`` (everything but
status-only bodies) and ``keys.INBOUND_STATUS_STREAM`` (status-only bodies, see
connectors.ingest) to effects.

Design (any number of replicas, each running one :class:`Consumer`):

1. **Fan-out** (one replica at a time, chosen by the lease ``inbound:router``; the others stand
   by): reads raw bodies through the consumer group ``keys.INBOUND_GROUP`` on both streams,
   the message stream first (:meth:`Consumer.read_once`), parses them
   (connectors.webhook) and, in one ``MULTI``, (a) emits the order-free events (statuses,
   ``value.errors``, user preferences, template/account updates), each guarded by an
   idempotency claim in the same Lua call (connectors.dedupe.emit_once), (b) appends each message
   and business echo to its contact's partition stream, and (c) ``XACK``s + deletes the raw
   entry. A crash before ``EXEC`` leaves the raw entry pending; the next leader takes it with
   ``XAUTOCLAIM`` (min idle = the lease time, so nothing live is stolen). Re-fanned messages
   are dropped downstream by their wamid claim. A single fan-out reader is what keeps a
   contact's messages in stream order across replicas (they are all in the message stream;
   statuses need no order relative to messages: their roll-up is monotonic); it costs ~25 µs
   per body.
2. **Partitions** (connectors.partitions): each partition stream is leased to one replica, which
   hands each entry to :class:`connectors.routing.Router` (wamid claim, window, event,
   ownership, bot or handoff inbox) one contact message at a time, then acks it.

Because one contact's messages reach the bot strictly one after another, Rasa's ticket lock
never has to wait (its 1 s polling would otherwise add up to a second per message).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from observability import trace

from . import dedupe, keys, mapping, webhook
from .lease import Lease
from .partitions import PartitionSet, decode, ensure_group, partition_of
from .routing import Router
from .tasks import start_task, stop_tasks

log = logging.getLogger(__name__)

ROUTER_LEASE = f"{keys.PREFIX}:inbound:router"
#: The raw streams, in the order the fan-out serves them.
RAW_STREAMS = (keys.INBOUND_STREAM, keys.INBOUND_STATUS_STREAM)
RawEntry = Tuple[str, str, Dict[str, str]]  # (stream, entry id, fields)


@dataclass(frozen=True)
class ConsumerOptions:
    partitions: int = 16
    lease_ms: int = 6000  # also the min idle time before a pending raw entry is reclaimed
    tick_s: float = 1.0
    batch: int = 100
    #: Status-only bodies per read: a customer message arriving meanwhile waits for at most these.
    status_batch: int = 20
    block_ms: int = 500
    worker_batch: int = 64
    max_attempts: int = 5
    retry_base_s: float = 0.2


def envelope(field: str, phone_number_id: str, item_key: str, item: Dict[str, Any],
             contact: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A one-item webhook body, so a partition entry is re-parsed by the same parser."""
    value: Dict[str, Any] = {"metadata": {"phone_number_id": phone_number_id}, item_key: [item]}
    if contact:
        value["contacts"] = [contact]
    return {"entry": [{"changes": [{"field": field, "value": value}]}]}


class Consumer:
    """One replica's share of the inbound pipeline; ``start()`` then ``stop()``."""

    def __init__(self, redis: Any, router: Router, options: ConsumerOptions = ConsumerOptions(),
                 name: Optional[str] = None) -> None:
        self.redis, self.router, self.options = redis, router, options
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.partitions = PartitionSet(
            redis, self.name, options.partitions, self._process_partition_entry, lease_ms=options.lease_ms,
            worker_options={"batch": options.worker_batch, "block_ms": options.block_ms,
                            "max_attempts": options.max_attempts, "retry_base_s": options.retry_base_s})
        self._router_lease = Lease(redis, ROUTER_LEASE, self.name, options.lease_ms)
        self._fanout: Optional["asyncio.Task[None]"] = None
        self._ticker: Optional["asyncio.Task[None]"] = None

    # Lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.ensure_groups()
        self._ticker = start_task(self._tick_forever(), "inbound-ticker")

    async def stop(self) -> None:
        # The ticker first: a tick in flight may still start a fan-out task, stopped next.
        await stop_tasks([self._ticker])
        await stop_tasks([self._fanout])
        await self.partitions.close()
        await self.router.close()
        try:
            await self._router_lease.release()
        except Exception as exc:
            log.warning("router lease release failed: %r", exc)

    async def _tick_forever(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down: keep trying, the leases lapse by themselves
                log.warning("inbound consumer tick failed: %r", exc)
            await asyncio.sleep(self.options.tick_s)

    async def _tick(self) -> None:
        if self._fanout is not None and self._fanout.done():
            self._fanout = None  # its crash is logged already (start_task)
        if self._fanout is None:
            if await self._router_lease.acquire():
                self._fanout = start_task(self._fanout_forever(), "fanout")
        elif not await self._router_lease.renew():
            log.warning("lost the fan-out lease")
            await stop_tasks([self._fanout])  # until it has ended: two fan-out readers would break order
            self._fanout = None
        await self.partitions.tick()

    async def ensure_groups(self) -> None:
        """Create the consumer group on both raw streams (and the streams) if missing."""
        for stream in RAW_STREAMS:
            await ensure_group(self.redis, stream, keys.INBOUND_GROUP)

    # Stage 1: fan-out ----------------------------------------------------------------------------
    async def _fanout_forever(self) -> None:
        await self.ensure_groups()  # again: a Redis that lost its data would answer NOGROUP forever
        while True:
            await self.reclaim_once()
            for _ in range(100):  # bounded: look for abandoned entries every ~100 reads
                if not await self.read_once():
                    break

    async def read_once(self) -> int:
        """Fan out new raw entries, customer messages first; how many (0: none within ``block_ms``).

        Up to ``batch`` entries of the message stream without waiting; only if it has none, up to
        ``status_batch`` status-only bodies; only if both are empty, one blocking read on both
        (``status_batch`` each: a message is served first and waits for at most that many)."""
        o = self.options
        entries = (await self._read([keys.INBOUND_STREAM], o.batch, None)
                   or await self._read([keys.INBOUND_STATUS_STREAM], o.status_batch, None)
                   or await self._read(RAW_STREAMS, o.status_batch, o.block_ms))
        for stream, entry_id, fields in entries:
            await self.fan_out(entry_id, fields, stream)
        return len(entries)

    async def _read(self, streams: Sequence[str], count: int, block: Optional[int]) -> List[RawEntry]:
        resp = await self.redis.xreadgroup(keys.INBOUND_GROUP, self.name, {s: ">" for s in streams},
                                           count=count, block=block)
        found = {_text(stream): entries for stream, entries in resp or []}
        return [(stream, _text(i), decode(f)) for stream in RAW_STREAMS for i, f in found.get(stream, [])]

    async def reclaim_once(self, min_idle_ms: Optional[int] = None) -> int:
        """Take over raw entries pending longer than ``min_idle_ms`` (a dead reader's) on both
        streams, messages first, and fan them out."""
        idle = self.options.lease_ms if min_idle_ms is None else min_idle_ms
        total = 0
        for stream in RAW_STREAMS:
            cursor = "0-0"
            for _ in range(1000):  # bounded walk over the pending list
                resp = await self.redis.xautoclaim(stream, keys.INBOUND_GROUP, self.name, idle,
                                                   start_id=cursor, count=self.options.batch)
                cursor, claimed = _text(resp[0]), resp[1]
                for entry_id, fields in claimed:
                    await self.fan_out(_text(entry_id), decode(fields), stream)
                total += len(claimed)
                if cursor == "0-0":
                    break
        return total

    async def fan_out(self, entry_id: str, fields: Dict[str, str], stream: str = keys.INBOUND_STREAM) -> None:
        """Turn one raw entry of ``stream`` into events and partition entries, and ack it, atomically."""
        pipe = self.redis.pipeline(transaction=True)
        body = fields.get("body", "")
        try:
            notification = webhook.parse(body.encode())
        except webhook.MalformedWebhook:
            claims = [mapping.malformed_event(body.encode())]
            notification = webhook.Notification()
        else:
            claims = mapping.direct_events(notification)
        for claim_key, event, ttl in claims:
            _emit_once(pipe, claim_key, event.to_fields(), ttl)
        for msg in notification.messages:
            contact = {"profile": {"name": msg.name}, "wa_id": msg.wa_id, "user_id": msg.user_id}
            env = envelope("messages", msg.phone_number_id, "messages", msg.raw, contact)
            self._to_partition(pipe, msg.wa_id or msg.user_id, "message", env, trace.for_message(msg.wamid))
        for echo in notification.echoes:
            self._to_partition(pipe, echo.to, "echo",
                               envelope("smb_message_echoes", echo.phone_number_id, "message_echoes", echo.raw),
                               trace.for_message(echo.wamid))
        pipe.xack(stream, keys.INBOUND_GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        await pipe.execute()

    def _to_partition(self, pipe: Any, contact: str, kind: str, env: Dict[str, Any], trace_id: str) -> None:
        stream = keys.inbound_partition(partition_of(contact, self.options.partitions))
        pipe.xadd(stream, {"contact": contact, "kind": kind, "trace": trace_id,
                           "env": json.dumps(env, separators=(",", ":"), ensure_ascii=False)})

    # Stage 2: one partition entry ------------------------------------------------------------------
    async def _process_partition_entry(self, index: int, entry_id: str, fields: Dict[str, str]) -> None:
        notification = webhook.parse(fields["env"].encode())
        # The entry's trace id; entries written before trace ids existed get the same one.
        for msg in notification.messages:
            with trace.bound(fields.get("trace") or trace.for_message(msg.wamid)):
                await self.router.handle_message(msg, token=f"p{index}-{entry_id}")
        for echo in notification.echoes:
            with trace.bound(fields.get("trace") or trace.for_message(echo.wamid)):
                await self.router.handle_echo(echo)


def _emit_once(pipe: Any, claim_key: str, fields: Dict[str, str], ttl: int) -> None:
    flat: List[str] = []
    for k, v in fields.items():
        flat.extend((k, v))
    pipe.eval(dedupe.EMIT_ONCE_SCRIPT, 2, claim_key, keys.EVENTS_STREAM, ttl, *flat)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

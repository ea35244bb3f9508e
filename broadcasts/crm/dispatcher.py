"""The CRM dispatcher: its own consumer group on ``parley:events``; every deliverable event
becomes one outbox delivery per matching active subscription.

A stream entry is acknowledged only after the outbox write, and delivery ids are
``{event_id}:{subscription_id}``, so a crash, a restart or a re-read of the whole stream never
loses or duplicates a delivery. Events older than a subscription are not sent to it (a group
created anew at the start of the stream does not flood new subscribers with history). Entries
left pending by a dead process are taken over after ``reclaim_ms`` of idleness.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from redis.exceptions import ResponseError

from connectors import keys as shared_keys
from connectors.events import Event

from .. import keys
from .catalog import created_at, wanted, webhook_event
from .outbox import Outbox, delivery_id
from .subscriptions import SubscriptionStore

log = logging.getLogger(__name__)
STREAM = shared_keys.EVENTS_STREAM
BATCH = 200


def webhook_body(event: Event, kind: str, data: Mapping[str, Any]) -> str:
    """The JSON text POSTed (identical on every attempt)."""
    return json.dumps({"id": event.id, "type": kind, "created_at": created_at(event), "data": data},
                      separators=(",", ":"), ensure_ascii=False, default=str)


def outgoing(entry_id: str, fields: Mapping[Any, Any]) -> Optional[Tuple[Event, str, str]]:
    """(event, webhook type, body) of one stream entry, or None for events CRMs never see."""
    try:
        event = Event.from_fields(fields)
        converted = webhook_event(event)
    except Exception:  # noqa: BLE001 - a malformed entry is skipped, never blocks the stream
        log.warning("events entry %s is malformed; no webhook for it", entry_id)
        return None
    if converted is None:
        return None
    if not event.id:
        event = replace(event, id=entry_id)
    return event, converted[0], webhook_body(event, *converted)


def deliveries_for(event: Event, kind: str, body: str, subscriptions: Sequence[Mapping[str, Any]]
                   ) -> List[Dict[str, Any]]:
    """The outbox documents of one event: one per active subscription that wants it and existed then."""
    contact = {"wa_id": event.data["wa_id"]} if isinstance(event.data, dict) and event.data.get("wa_id") else {}
    return [{"_id": delivery_id(event.id, sub["_id"]), "subscription_id": sub["_id"], "event_id": event.id,
             "type": kind, "body": body, **contact}
            for sub in subscriptions
            if wanted(sub.get("events") or [], kind) and event.ts >= sub["created_at"].timestamp()]


class Dispatcher:
    def __init__(self, redis: Any, subscriptions: SubscriptionStore, outbox: Outbox, name: str,
                 reclaim_ms: int = 30_000) -> None:
        self.redis, self.subscriptions, self.outbox = redis, subscriptions, outbox
        self.name, self.reclaim_ms = name, reclaim_ms

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(STREAM, keys.CRM_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        await self.ensure_group()
        cursor = "0"  # first this consumer's unacknowledged entries (after a crash), then new ones
        next_reclaim = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_reclaim:
                await self.reclaim()
                next_reclaim = time.monotonic() + max(self.reclaim_ms / 2000, 1.0)
            got = await self.redis.xreadgroup(keys.CRM_GROUP, self.name, {STREAM: cursor}, count=BATCH,
                                              block=200 if cursor == ">" else None)
            items = got[0][1] if got else []
            if cursor == "0" and not items:
                cursor = ">"
                continue
            await self.process(items)

    async def reclaim(self) -> None:
        """Take over entries another (dead) consumer read but never acknowledged."""
        start = "0-0"
        while True:
            answer = await self.redis.xautoclaim(STREAM, keys.CRM_GROUP, self.name, self.reclaim_ms,
                                                 start_id=start, count=BATCH)
            start, items = answer[0], answer[1]
            await self.process(items)
            if not items or start in ("0-0", b"0-0"):
                return

    async def process(self, items: Sequence[Any]) -> int:
        """Write the deliveries of a batch of entries, then acknowledge them; returns how many were new."""
        if not items:
            return 0
        found = [outgoing(entry_id, fields) for entry_id, fields in items if fields]
        events = [one for one in found if one is not None]
        added = 0
        if events:  # most of the stream is conversation traffic: no MongoDB read for it
            subscriptions = await self.subscriptions.active()
            added = await self.outbox.add([d for one in events for d in deliveries_for(*one, subscriptions)])
        await self.redis.xack(STREAM, keys.CRM_GROUP, *[entry_id for entry_id, _ in items])
        return added

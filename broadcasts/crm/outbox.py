"""The durable outbox of webhook deliveries (MongoDB ``crm_deliveries``).

One document per (event, subscription), ``_id = "{event_id}:{subscription_id}"``, inserted with
``$setOnInsert`` so re-reading the events stream never adds a second delivery. Document:
``{_id, subscription_id, event_id, type, wa_id (the contact, if any; erased with it), body (the exact
JSON text sent on every attempt), state, attempts, next_attempt_at, created_at, last_status, last_error,
log: [{attempt, at, status, error, ms}], finished_at}``.

    pending --2xx--> delivered
    pending --4xx (not 429), 3xx--> failed
    pending --network error, timeout, 5xx, 429--> pending (next_attempt_at = now + backoff)
                                                  or dead after the last attempt

Claiming is one conditional update on (state, attempts, next_attempt_at <= now) that moves
``next_attempt_at`` to a lease end and increments ``attempts``: decided by ``modified_count``
(never a returned pre-image), so two processes never send one attempt twice, and a sender that
dies mid-attempt leaves the delivery due again when the lease ends. Results are written only if
``attempts`` is still the claimed one.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import BulkWriteError

from ..contacts import utcnow

DUPLICATE_KEY = 11000
LOG_KEEP = 20


class DeliveryState(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"


def delivery_id(event_id: str, subscription_id: str) -> str:
    return f"{event_id}:{subscription_id}"


class Outbox:
    def __init__(self, db: Any) -> None:
        self.col = db["crm_deliveries"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.col.create_index([("subscription_id", ASCENDING), ("created_at", DESCENDING)])
        await self.col.create_index([("wa_id", ASCENDING)], sparse=True)

    async def add(self, deliveries: Iterable[Mapping[str, Any]]) -> int:
        """Insert the deliveries that do not exist yet; returns how many were new."""
        now = utcnow()
        ops = [UpdateOne({"_id": d["_id"]}, {"$setOnInsert": {
            **{k: v for k, v in d.items() if k != "_id"}, "state": DeliveryState.PENDING.value, "attempts": 0,
            "next_attempt_at": now, "created_at": now, "log": []}}, upsert=True) for d in deliveries]
        if not ops:
            return 0
        try:
            return (await self.col.bulk_write(ops, ordered=False)).upserted_count
        except BulkWriteError as exc:  # two dispatchers upserting one id: the loser's insert is a no-op
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            return int(exc.details.get("nUpserted", 0))

    async def due(self, limit: int, exclude_subscriptions: Iterable[str] = ()) -> List[Dict[str, Any]]:
        query: Dict[str, Any] = {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": utcnow()}}
        excluded = list(exclude_subscriptions)
        if excluded:
            query["subscription_id"] = {"$nin": excluded}
        return [d async for d in self.col.find(query, {"log": 0}).sort("next_attempt_at", 1).limit(limit)]

    async def claim(self, doc: Mapping[str, Any], lease_until: datetime) -> bool:
        """Take the next attempt of a due delivery; True for exactly one caller."""
        result = await self.col.update_one(
            {"_id": doc["_id"], "state": DeliveryState.PENDING.value, "attempts": doc["attempts"],
             "next_attempt_at": {"$lte": utcnow()}},
            {"$set": {"next_attempt_at": lease_until}, "$inc": {"attempts": 1}})
        return bool(result.modified_count)

    async def record(self, doc_id: str, attempt: int, state: DeliveryState, *, status: Optional[int],
                     error: str, ms: int, next_attempt_at: Optional[datetime] = None) -> bool:
        """The outcome of attempt number ``attempt`` (ignored if the delivery moved on meanwhile)."""
        now = utcnow()
        sets: Dict[str, Any] = {"state": state.value, "last_status": status, "last_error": error}
        if state is DeliveryState.PENDING:
            sets["next_attempt_at"] = next_attempt_at or now
        else:
            sets["finished_at"] = now
        entry = {"attempt": attempt, "at": now, "status": status, "error": error, "ms": ms}
        result = await self.col.update_one(
            {"_id": doc_id, "state": DeliveryState.PENDING.value, "attempts": attempt},
            {"$set": sets, "$push": {"log": {"$each": [entry], "$slice": -LOG_KEEP}}})
        return bool(result.modified_count)

    async def recent(self, subscription_id: str, limit: int = 50, state: Optional[str] = None) -> List[Dict[str, Any]]:
        query: Dict[str, Any] = {"subscription_id": subscription_id}
        if state:
            query["state"] = state
        cursor = self.col.find(query, {"body": 0}).sort("created_at", -1).limit(limit)
        return [d async for d in cursor]

    async def forget(self, wa_id: str) -> int:
        """Erase a contact: its deliveries (sent or not) go."""
        return (await self.col.delete_many({"wa_id": wa_id})).deleted_count

    async def drop_subscription(self, subscription_id: str) -> int:
        return (await self.col.delete_many({"subscription_id": subscription_id})).deleted_count

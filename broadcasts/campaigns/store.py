"""Campaign documents and their one transition function (atomic in MongoDB).

Document: ``{_id, name, template_id, variables, segment: {filter}|{segment_id}, category,
rate, priority, schedule: {at|cron, timezone, window: {start, end}}, followups, state,
history: [...], stats: {sent, delivered, read, failed, skipped, replied, reminded, retried},
timeline: {...}, pending_flushes: [{id, owner, kind, at}]}``: the group commits (send outcomes,
status roll-ups, replies, reminders, retries) that may have written records without adding their
counts yet (campaigns.commit). Counters change only by ``close_flush``.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from connectors import keys as shared_keys
from connectors.events import Event

from .. import keys
from ..errors import IllegalTransition, InvalidInput, NotFound
from .state import TRANSITIONS, CampaignState, transition

EDITABLE = ("name", "template_id", "variables", "segment", "rate", "priority", "schedule", "followups",
            "attribution_hours")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CampaignStore:
    def __init__(self, db: Any, redis: Any) -> None:
        self.col = db["campaigns"]
        self.redis = redis

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("state", ASCENDING)])
        await self.col.create_index([("pending_flushes.at", ASCENDING)], sparse=True)

    async def create(self, spec: Mapping[str, Any], campaign_id: Optional[str] = None) -> Dict[str, Any]:
        doc: Dict[str, Any] = {k: spec[k] for k in EDITABLE if k in spec}
        if not doc.get("template_id"):
            raise InvalidInput("a campaign needs template_id")
        if doc.get("priority", "normal") not in keys.PRIORITIES:
            raise InvalidInput(f"priority must be one of {', '.join(keys.PRIORITIES)}")
        doc.update(_id=campaign_id or spec.get("id") or uuid.uuid4().hex[:12], state=CampaignState.DRAFT.value,
                   created_at=utcnow(), history=[], stats={}, priority=doc.get("priority", "normal"))
        for key in ("parent_id", "run_at"):
            if key in spec:
                doc[key] = spec[key]
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            raise IllegalTransition(f"campaign {doc['_id']} already exists") from None
        return doc

    async def update(self, campaign_id: str, changes: Mapping[str, Any]) -> Dict[str, Any]:
        """Edit a draft (only drafts can change)."""
        sets = {k: changes[k] for k in EDITABLE if k in changes}
        result = await self.col.update_one({"_id": campaign_id, "state": "draft"}, {"$set": sets})
        doc = await self.get(campaign_id)
        if not result.modified_count and doc["state"] != "draft":
            raise IllegalTransition("only a draft campaign can be edited")
        return doc

    async def get(self, campaign_id: str) -> Dict[str, Any]:
        doc = await self.col.find_one({"_id": campaign_id})
        if doc is None:
            raise NotFound(f"no campaign {campaign_id}")
        return doc

    async def list(self, state: Optional[str] = None) -> List[Dict[str, Any]]:
        query = {"state": state} if state else {}
        return [d async for d in self.col.find(query, {"history": 0, "timeline": 0}).sort("created_at", -1)]

    async def transition(self, campaign_id: str, action: str, *, reason: str = "",
                         extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Apply one named transition atomically; exactly one caller wins a race."""
        sources, target = TRANSITIONS.get(action, (frozenset(), None))
        if target is None:
            raise IllegalTransition(f"unknown action {action!r}")
        now = utcnow()
        sets: Dict[str, Any] = {"state": target.value, f"{target.value}_at": now, "state_reason": reason}
        sets.update(extra or {})
        result = await self.col.update_one(
            {"_id": campaign_id, "state": {"$in": [s.value for s in sources]}},
            {"$set": sets, "$push": {"history": {"action": action, "to": target.value, "at": now, "reason": reason}}})
        doc = await self.get(campaign_id)
        if not result.modified_count:
            transition(action, CampaignState(doc["state"]))  # raises IllegalTransition
            raise IllegalTransition(f"campaign {campaign_id} changed state concurrently")
        await self.redis.set(keys.campaign_control(campaign_id), target.value)
        event = Event(f"campaign.{target.value}", f"campaign:{campaign_id}:{action}:{len(doc['history'])}",
                      {"campaign_id": campaign_id, "action": action, "state": target.value, "reason": reason})
        await self.redis.xadd(shared_keys.EVENTS_STREAM, event.to_fields())
        return doc

    async def control(self, campaign_id: str) -> str:
        """The campaign's state as workers see it (Redis; falls back to MongoDB and re-caches)."""
        value = await self.redis.get(keys.campaign_control(campaign_id))
        if value is None:
            value = (await self.get(campaign_id))["state"]
            await self.redis.set(keys.campaign_control(campaign_id), value)
        return value.decode() if isinstance(value, bytes) else value

    async def open_flush(self, campaign_id: str, flush: str, owner: str, at: datetime, kind: str = "send") -> None:
        """Register group commit ``flush`` of ``owner`` before it writes records (idempotent)."""
        await self.col.update_one({"_id": campaign_id, "pending_flushes.id": {"$ne": flush}},
                                  {"$push": {"pending_flushes": {"id": flush, "owner": owner, "kind": kind, "at": at}}})

    async def close_flush(self, campaign_id: str, flush: str, counts: Mapping[Tuple[str, datetime], int]) -> bool:
        """Add a registered flush's ``counts`` ((counter, time of its timeline minute) -> n) and drop
        its registration, in one update: the first caller adds them, any later one (a retry, a
        second recovery) changes nothing."""
        update: Dict[str, Any] = {"$pull": {"pending_flushes": {"id": flush}}}
        increments = _increments(counts)
        if increments:
            update["$inc"] = increments
        result = await self.col.update_one({"_id": campaign_id, "pending_flushes.id": flush}, update)
        return result.modified_count == 1

    async def flush_open(self, campaign_id: str, flush: str) -> bool:
        """Whether ``flush`` is still registered on the campaign (nobody closed it yet)."""
        return await self.col.count_documents({"_id": campaign_id, "pending_flushes.id": flush}, limit=1) == 1

    async def pending_flushes(self, before: datetime) -> List[Tuple[str, Dict[str, Any]]]:
        """(campaign id, registration) of every flush registered before ``before`` and still open."""
        cursor = self.col.find({"pending_flushes.at": {"$lt": before}}, {"pending_flushes": 1})
        return [(doc["_id"], flush) async for doc in cursor for flush in doc["pending_flushes"] if flush["at"] < before]

    async def set_fields(self, campaign_id: str, fields: Mapping[str, Any]) -> None:
        await self.col.update_one({"_id": campaign_id}, {"$set": dict(fields)})


def _increments(counts: Mapping[Tuple[str, datetime], int]) -> Dict[str, int]:
    """The ``$inc`` of ``counts`` ((counter, time) -> n): ``stats.<counter>`` and its timeline minute."""
    inc: Dict[str, int] = defaultdict(int)
    for (counter, at), n in counts.items():
        if n:
            inc[f"stats.{counter}"] += n
            inc[f"timeline.{at.strftime('%Y%m%d%H%M')}.{counter}"] += n
    return dict(inc)

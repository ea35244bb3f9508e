"""Per-recipient records (``recipients``): the snapshot of a campaign's audience and each send.

Id ``campaign:{campaign_id}:{wa_id}``, so a snapshot repeated by a restart or a second
scheduler upserts the same documents. Every state change is a conditional update (see
campaigns.state), so it happens once whatever the concurrency. A counted write (a send outcome,
a funnel level reached, an asynchronous failure, the first reply, a reminder's outcome, a retry)
also pushes ``{flush, counted}`` (``n`` too, unless 1) onto the
record's ``stamps``: the group commit that counts it and the counter, so a commit's counts can
be rebuilt from the records (campaigns.commit).
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterable, Dict, List, Mapping, Optional, Tuple, Union

from pymongo import ASCENDING, DESCENDING, UpdateOne

from .state import FAIL_BELOW, RANK, RecipientState as R

#: What each record a counted write modifies adds: (counter, n) pairs (campaigns.commit).
Delta = Tuple[Tuple[str, int], ...]


def record_id(campaign_id: str, wa_id: str) -> str:
    return f"campaign:{campaign_id}:{wa_id}"


def parse_id(rid: str) -> Tuple[str, str]:
    """(campaign_id, wa_id) of a record id."""
    _, rest = rid.split(":", 1)
    campaign_id, wa_id = rest.rsplit(":", 1)
    return campaign_id, wa_id


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RecipientStore:
    def __init__(self, db: Any) -> None:
        self.col = db["recipients"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("campaign_id", ASCENDING), ("state", ASCENDING)])
        await self.col.create_index([("wamid", ASCENDING)], sparse=True)
        await self.col.create_index([("wa_id", ASCENDING), ("sent_at", DESCENDING)])
        await self.col.create_index([("state", ASCENDING), ("claimed_at", ASCENDING)])
        await self.col.create_index([("claim", ASCENDING)], sparse=True)
        await self.col.create_index([("stamps.flush", ASCENDING)], sparse=True)

    async def snapshot(self, campaign_id: str, category: str, rows: AsyncIterable[Tuple[str, Dict[str, str]]],
                       batch: int = 1000) -> int:
        """Create (never overwrite) one pending record per (wa_id, variable values); returns new ones."""
        created, ops = 0, []
        async for wa_id, values in rows:
            ops.append(UpdateOne({"_id": record_id(campaign_id, wa_id)}, {"$setOnInsert": {
                "campaign_id": campaign_id, "wa_id": wa_id, "category": category, "values": values,
                "state": R.PENDING.value, "rank": 0, "created_at": utcnow()}}, upsert=True))
            if len(ops) >= batch:
                created += (await self.col.bulk_write(ops, ordered=False)).upserted_count
                ops = []
        if ops:
            created += (await self.col.bulk_write(ops, ordered=False)).upserted_count
        return created

    async def get(self, rid: str) -> Optional[Dict[str, Any]]:
        return await self.col.find_one({"_id": rid})

    async def claim_many(self, rids: List[str], worker: str) -> List[Dict[str, Any]]:
        """pending -> sending for every record of ``rids`` still pending; returns the ones this call won.

        One bulk write of conditional updates by ``_id`` stamps a fresh claim token on the records
        it moves, then one indexed ``find`` reads back the records carrying that token: two round
        trips for a batch, and a record another worker claimed first never carries our token.
        (Point updates, not one ``update_many`` with ``$in``: both stores plan those as a scan.)"""
        if not rids:
            return []
        token, now = uuid.uuid4().hex, utcnow()
        claim = {"$set": {"state": R.SENDING.value, "rank": RANK[R.SENDING], "claimed_at": now, "worker": worker,
                          "claim": token},
                 "$inc": {"attempts": 1}}
        if not await self.write([UpdateOne({"_id": rid, "state": R.PENDING.value}, claim) for rid in rids]):
            return []
        return [d async for d in self.col.find({"claim": token})]

    async def release(self, rid: str) -> bool:
        """sending -> pending (the campaign paused before the send left)."""
        return await self.write([self.release_op(rid)]) == 1

    # Conditional updates decide with ``modified_count`` (never with a returned pre-image), which
    # is atomic per document on MongoDB and on the SecantusDB used in tests.
    @staticmethod
    def progress_filter(rid: str, rank_below: int) -> Dict[str, Any]:
        """The record, if it is below ``rank_below`` and not terminal (the one rule for moving on)."""
        return {"_id": rid, "rank": {"$lt": rank_below}, "state": {"$nin": [R.FAILED.value, R.SKIPPED.value]}}

    @staticmethod
    def reach_op(rid: str, level: str, flush: str = "") -> UpdateOne:
        """Add funnel ``level`` to a live record's ``reached`` set; modifies only the first time.
        ``flush`` stamps the group commit that counts it (``flush_counts``)."""
        return UpdateOne({"_id": rid, "reached": {"$ne": level}, "state": {"$nin": [R.FAILED.value, R.SKIPPED.value]}},
                         {"$addToSet": {"reached": level}, **_stamp(flush, level)})

    @staticmethod
    def accept_op(rid: str, wamid: str, at: datetime, flush: str = "") -> UpdateOne:
        """The Graph API took the message: sending -> accepted, reaching funnel level ``sent``.

        Modifies (and so counts ``sent``) only if no status got there first: a status moves the
        record past ``accepted`` and counts ``sent`` itself (with the wamid it carries). ``flush``
        stamps the group commit that counts it (``flush_counts``)."""
        sets = {"state": R.ACCEPTED.value, "rank": RANK[R.ACCEPTED], "wamid": wamid, "sent_at": at}
        return UpdateOne(RecipientStore.progress_filter(rid, RANK[R.ACCEPTED]),
                         {"$set": sets, "$addToSet": {"reached": "sent"}, **_stamp(flush, "sent")})

    @staticmethod
    def fail_op(rid: str, error: Mapping[str, Any], transient: bool, state: R, at: datetime,
                flush: str = "", wamid: str = "") -> UpdateOne:
        """-> failed (or skipped) unless already delivered, read, failed or skipped."""
        sets = {"state": state.value, "error": dict(error), "transient": transient, "failed_at": at}
        if wamid:
            sets["wamid"] = wamid
        return UpdateOne(RecipientStore.progress_filter(rid, FAIL_BELOW), {"$set": sets, **_stamp(flush, state.value)})

    @staticmethod
    def reply_op(rid: str, reply: Mapping[str, Any], at: datetime, flush: str = "") -> UpdateOne:
        """The first reply to the campaign message: modifies (and so counts ``replied``) once."""
        return UpdateOne({"_id": rid, "replied_at": {"$exists": False}},
                         {"$set": {"replied_at": at, "reply": dict(reply)}, **_stamp(flush, "replied")})

    @staticmethod
    def remind_op(rid: str, outcome: Mapping[str, Any], at: datetime, flush: str = "") -> UpdateOne:
        """A claimed reminder's outcome (sent, skipped or failed): modifies (and so counts
        ``reminded``) once, only the record's claim ``{"state": "sending"}``."""
        return UpdateOne({"_id": rid, "reminder.state": "sending"},
                         {"$set": {"reminder": {**outcome, "at": at}}, **_stamp(flush, "reminded")})

    @staticmethod
    def retry_op(rid: str, delta: Delta, at: datetime, flush: str = "") -> UpdateOne:
        """A transient failure sent again: failed -> pending, its funnel (``reached``) started over.
        Modifies only a record still failed; ``delta`` is what that changes in the counters."""
        return UpdateOne({"_id": rid, "state": R.FAILED.value, "transient": True},
                         {"$set": {"state": R.PENDING.value, "rank": 0, "reached": [], "retried_at": at},
                          "$unset": {"error": "", "transient": "", "wamid": ""}, "$inc": {"retries": 1},
                          **_stamp(flush, delta)})

    async def flush_counts(self, flush: str) -> Dict[str, int]:
        """What group commit ``flush`` added to records, per counter (one indexed query)."""
        counts: Counter = Counter()
        async for doc in self.col.find({"stamps.flush": flush}, {"stamps": 1}):
            for stamp in doc["stamps"]:
                if stamp["flush"] == flush:
                    counts[stamp["counted"]] += stamp.get("n", 1)
        return dict(counts)

    @staticmethod
    def release_op(rid: str) -> UpdateOne:
        """sending -> pending (the campaign paused before the send left)."""
        return UpdateOne({"_id": rid, "state": R.SENDING.value}, {"$set": {"state": R.PENDING.value, "rank": 0}})

    async def write(self, ops: List[UpdateOne]) -> int:
        """Apply ``ops`` in order in one round trip; returns how many documents they modified."""
        if not ops:
            return 0
        return (await self.col.bulk_write(ops, ordered=True)).modified_count

    @staticmethod
    def advance_op(rid: str, status: R, at: datetime, wamid: str = "") -> UpdateOne:
        """Status webhook: move up to ``status`` if that is progress (the earliest time is ``sent_at``)."""
        sets: Dict[str, Any] = {"state": status.value, "rank": RANK[status]}
        if status is not R.SENT:  # ``sent_at`` is the $min below
            sets[f"{status.value}_at"] = at
        if wamid:
            sets["wamid"] = wamid
        return UpdateOne(RecipientStore.progress_filter(rid, RANK[status]), {"$set": sets, "$min": {"sent_at": at}})

    async def by_wamid(self, wamid: str) -> Optional[Dict[str, Any]]:
        return await self.col.find_one({"wamid": wamid})

    async def latest_for(self, wa_id: str, since: datetime) -> Optional[Dict[str, Any]]:
        """The most recent campaign message to ``wa_id`` sent after ``since`` (reply attribution)."""
        return await self.col.find_one({"wa_id": wa_id, "sent_at": {"$gte": since}}, sort=[("sent_at", DESCENDING)])

    async def expired_leases(self, lease_seconds: float, limit: int = 1000,
                             now: Optional[datetime] = None) -> List[Dict[str, Any]]:
        """``sending`` records claimed more than ``lease_seconds`` before ``now`` (default: now)."""
        cutoff = (now or utcnow()) - timedelta(seconds=lease_seconds)
        cursor = self.col.find({"state": R.SENDING.value, "claimed_at": {"$lt": cutoff}}).limit(limit)
        return [d async for d in cursor]

    async def pending_ids(self, campaign_id: str) -> List[str]:
        cursor = self.col.find({"campaign_id": campaign_id, "state": R.PENDING.value}, {"wa_id": 1})
        return [d["wa_id"] async for d in cursor]

    async def unfinished(self, campaign_id: str) -> int:
        return await self.col.count_documents(
            {"campaign_id": campaign_id, "state": {"$in": [R.PENDING.value, R.SENDING.value]}}, limit=1)

    async def counts(self, campaign_id: str) -> Dict[str, int]:
        """Recipients per state, straight from the records (the truth the counters must match)."""
        pipeline = [{"$match": {"campaign_id": campaign_id}}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}]
        return {d["_id"]: d["n"] async for d in self.col.aggregate(pipeline)}

    async def failure_reasons(self, campaign_id: str) -> List[Dict[str, Any]]:
        pipeline = [{"$match": {"campaign_id": campaign_id, "state": {"$in": ["failed", "skipped"]}}},
                    {"$group": {"_id": {"code": "$error.code", "title": "$error.title"}, "n": {"$sum": 1}}},
                    {"$sort": {"n": -1}}]
        return [{"code": d["_id"].get("code"), "title": d["_id"].get("title"), "count": d["n"]}
                async for d in self.col.aggregate(pipeline)]


def _stamp(flush: str, counted: Union[str, Delta]) -> Dict[str, Any]:
    """The update part naming the group commit that counts a record's change, and in which counter
    (pushed, never overwriting an earlier commit's stamp that its recovery may still need); a
    ``Delta`` pushes one stamp per counter, with its step ``n`` unless 1."""
    if not flush:
        return {}
    if isinstance(counted, str):
        return {"$push": {"stamps": {"flush": flush, "counted": counted}}}
    return {"$push": {"stamps": {"$each": [{"flush": flush, "counted": counter, **({"n": n} if n != 1 else {})}
                                           for counter, n in counted]}}}

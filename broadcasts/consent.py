"""The consent ledger: every opt-in and opt-out, and the current consent derived from it.

Rules (``derive``), per contact and per category (marketing, utility are independent):
1. Entries are applied in time order; at the same instant an opt-out is applied after an
   opt-in, so an opt-out always wins over an older (or simultaneous) opt-in.
2. A later opt-in re-enables, but only an *explicit* one: any source except ``import``.
   A CSV re-import can never re-subscribe someone who said STOP.
3. No entry at all means "unknown": marketing needs an opt-in (``allows`` is False), utility
   is allowed unless opted out.

The ledger lives in MongoDB (``consent_ledger``, ids deterministic per source event so a repeat
is harmless); the derived state is copied onto the contact (``consent.<category>``) for
segments, and the marketing opt-out onto Redis ``keys.consent_optout(wa_id)`` so the shared
sender's fast check agrees in every process.
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from connectors import keys
from connectors.consent import mark_opted_in, mark_opted_out

CATEGORIES = ("marketing", "utility")


class Action(str, enum.Enum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"


class Source(str, enum.Enum):
    IMPORT = "import"
    API = "api"
    BOT = "bot"
    STOP_KEYWORD = "stop_keyword"
    USER_PREFERENCES = "user_preferences"
    FAILURE_131050 = "failure_131050"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: Any) -> "Source":
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class State(str, enum.Enum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Entry:
    wa_id: str
    category: str
    action: Action
    source: Source
    at: datetime


@dataclass(frozen=True)
class Consent:
    state: State
    at: datetime
    source: Source


def derive(entries: Iterable[Entry]) -> Optional[Consent]:
    """Current consent of one (contact, category) from its ledger entries (rules above)."""
    ordered = sorted(entries, key=lambda e: (e.at, e.action is Action.OPT_OUT))
    current: Optional[Consent] = None
    for e in ordered:
        if e.action is Action.OPT_OUT:
            current = Consent(State.OPTED_OUT, e.at, e.source)
        elif current is not None and current.state is State.OPTED_OUT and e.source is Source.IMPORT:
            continue
        else:
            current = Consent(State.OPTED_IN, e.at, e.source)
    return current


def allows(consent: Optional[Consent], category: str) -> bool:
    """May a message of ``category`` go to a contact with this consent? (rule 3)."""
    if consent is None:
        return category != "marketing"
    return consent.state is State.OPTED_IN


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _stored(contact: Optional[Mapping[str, Any]], category: str) -> Optional[Consent]:
    """The derived consent copied onto a contact document (``consent.<category>``)."""
    value = ((contact or {}).get("consent") or {}).get(category)
    if not value:
        return None
    return Consent(State(value["state"]), _utc(value["at"]), Source.parse(value["source"]))


class ConsentLedger:
    """The ledger in MongoDB plus the derived copies (contact document, Redis fast path)."""

    #: How long a prefetched consent may answer ``current`` (each answers once).
    PREFETCH_SECONDS = 5.0

    def __init__(self, db: Any, redis: Any) -> None:
        self.col = db["consent_ledger"]
        self.contacts = db["contacts"]
        self.redis = redis
        self._prefetched: Dict[Tuple[str, str], Tuple[float, Optional[Consent]]] = {}

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("wa_id", ASCENDING), ("category", ASCENDING), ("at", ASCENDING)])

    async def record(self, wa_id: str, category: str, action: Action, source: Source,
                     at: Optional[datetime] = None, ref: str = "") -> Optional[Consent]:
        """Append one entry (a repeat of the same ``ref`` is ignored) and re-derive the state."""
        at = _utc(at or datetime.now(timezone.utc))
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # MongoDB keeps milliseconds
        doc = {"wa_id": wa_id, "category": category, "action": action.value, "source": source.value, "at": at}
        if ref:
            doc["_id"] = f"{source.value}:{ref}:{category}:{action.value}"
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            pass
        return await self.refresh(wa_id, category)

    async def entries(self, wa_id: str, category: Optional[str] = None) -> List[Entry]:
        query: Dict[str, Any] = {"wa_id": wa_id}
        if category:
            query["category"] = category
        return [Entry(d["wa_id"], d["category"], Action(d["action"]), Source.parse(d["source"]), _utc(d["at"]))
                async for d in self.col.find(query).sort("at", ASCENDING)]

    async def refresh(self, wa_id: str, category: str) -> Optional[Consent]:
        """Re-derive one contact's consent from the ledger and write the derived copies."""
        self._prefetched.pop((wa_id, category), None)
        consent = derive(await self.entries(wa_id, category))
        if consent is not None:
            value = {"state": consent.state.value, "at": consent.at, "source": consent.source.value}
            await self.contacts.update_one({"_id": wa_id}, {"$set": {f"consent.{category}": value},
                                                            "$setOnInsert": {"phone": "+" + wa_id}}, upsert=True)
        if category == "marketing":
            await self._sync_fast_path(wa_id, consent)
        return consent

    async def _sync_fast_path(self, wa_id: str, consent: Optional[Consent]) -> None:
        if consent is not None and consent.state is State.OPTED_OUT:
            await mark_opted_out(self.redis, wa_id, source=consent.source.value, at=consent.at.timestamp())
        else:
            await mark_opted_in(self.redis, wa_id)

    async def import_opt_ins(self, pairs: Sequence[Tuple[str, str]]) -> int:
        """Bulk opt-ins from a CSV import; returns how many contacts' consent changed.

        Equivalent to ``record`` per pair under the rules: an import opt-in only changes a
        contact with no consent yet (it cannot lift an opt-out and an opt-in stays an opt-in).
        """
        now = datetime.now(timezone.utc)
        inserts = [InsertOne({"_id": f"import:{w}:{c}:opt_in", "wa_id": w, "category": c, "action": "opt_in",
                              "source": "import", "at": now}) for w, c in pairs]
        try:
            await self.col.bulk_write(inserts, ordered=False)
        except BulkWriteError:
            pass  # repeats of an earlier import: already in the ledger
        value = {"state": State.OPTED_IN.value, "at": now, "source": Source.IMPORT.value}
        updates = [UpdateOne({"_id": w, f"consent.{c}": {"$exists": False}}, {"$set": {f"consent.{c}": value}})
                   for w, c in pairs]
        result = await self.contacts.bulk_write(updates, ordered=False)
        return result.modified_count

    async def current(self, wa_id: str, category: str) -> Optional[Consent]:
        hit = self._prefetched.pop((wa_id, category), None)
        if hit is not None and time.monotonic() - hit[0] < self.PREFETCH_SECONDS:
            return hit[1]
        doc = await self.contacts.find_one({"_id": wa_id}, {f"consent.{category}": 1})
        return _stored(doc, category)

    async def prefetch(self, wa_ids: Sequence[str], category: str) -> None:
        """Read many contacts' consent in one query for the sends about to happen (campaign batches).

        Each prefetched value answers ``current`` once, within PREFETCH_SECONDS; an opt-out is
        still checked live on Redis by ``allows``, so a STOP arriving meanwhile wins."""
        if category not in CATEGORIES:
            return
        now = time.monotonic()
        if len(self._prefetched) > 50_000:  # values never used (a paused batch): drop the stale ones
            self._prefetched = {k: v for k, v in self._prefetched.items() if now - v[0] < self.PREFETCH_SECONDS}
        found = {d["_id"]: d async for d in self.contacts.find({"_id": {"$in": list(wa_ids)}},
                                                                {f"consent.{category}": 1})}
        for wa_id in wa_ids:
            self._prefetched[(wa_id, category)] = (now, _stored(found.get(wa_id), category))

    async def allows(self, wa_id: str, *, category: str, campaign: bool = False) -> bool:
        """``connectors.consent.ConsentChecker``: the check the shared sender calls.

        Marketing and campaign sends are refused on the Redis opt-out (same rule as
        ``connectors.consent.RedisConsent``); marketing and utility then follow the ledger.
        Other categories (service replies, authentication) are always allowed.
        """
        if (category == "marketing" or campaign) and await self.redis.exists(keys.consent_optout(wa_id)):
            return False
        if category not in CATEGORIES:
            return True
        return allows(await self.current(wa_id, category), category)

    async def resync_fast_path(self) -> int:
        """Rewrite every marketing opt-out into Redis (after a Redis loss); returns the count."""
        count = 0
        async for doc in self.contacts.find({"consent.marketing.state": State.OPTED_OUT.value}, {"_id": 1}):
            consent = await self.current(doc["_id"], "marketing")
            await self._sync_fast_path(doc["_id"], consent)
            count += 1
        return count

    async def forget(self, wa_id: str) -> None:
        """Erase a contact's ledger (data deletion request); the Redis opt-out stays as suppression."""
        await self.col.delete_many({"wa_id": wa_id})

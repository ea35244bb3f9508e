"""Contacts: one MongoDB document per WhatsApp number, keyed by wa_id.

Document: ``{_id: wa_id, phone: "+E164", name, attrs: {typed}, tags: [..],
consent: {marketing|utility: {state, at, source}}, last_inbound_at, unreachable, created_at}``.
``consent`` is a derived copy of the consent ledger (broadcasts.consent), kept for segment
queries; the ledger is the truth.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from pymongo import ASCENDING, DESCENDING, UpdateOne

from . import phones
from .errors import InvalidInput, NotFound
from .schema import DEFAULT_SCHEMA, Schema

SCHEMA_ID = "attribute_schema"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ContactInput:
    """One contact to create or update (attributes already typed)."""

    wa_id: str
    phone: str
    name: Optional[str] = None
    attrs: Dict[str, Any] = field(default_factory=dict)
    tags: List[str] = field(default_factory=list)

    def update(self) -> Dict[str, Any]:
        """An idempotent upsert: applying it twice changes nothing the second time."""
        sets: Dict[str, Any] = {"phone": self.phone}
        if self.name:
            sets["name"] = self.name
        for key, value in self.attrs.items():
            if value is not None:
                sets[f"attrs.{key}"] = value
        op: Dict[str, Any] = {"$set": sets, "$setOnInsert": {"created_at": utcnow()}}
        if self.tags:
            op["$addToSet"] = {"tags": {"$each": sorted(set(self.tags))}}
        return op


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "UpsertCounts") -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


class ContactStore:
    """Contacts and the attribute schema in MongoDB (motor)."""

    def __init__(self, db: Any, region: str = "IN") -> None:
        self.db = db
        self.col = db["contacts"]
        self.meta = db["broadcasts_meta"]
        self.region = region
        self._schema: Optional[Schema] = None

    async def ensure_indexes(self) -> None:
        schema = await self.schema()
        await self.col.create_index([("tags", ASCENDING)])
        await self.col.create_index([("consent.marketing.state", ASCENDING)])
        await self.col.create_index([("consent.utility.state", ASCENDING)])
        await self.col.create_index([("last_inbound_at", DESCENDING)])
        for attr in schema.attributes:
            if attr.indexed:
                await self.col.create_index([(f"attrs.{attr.name}", ASCENDING)])

    async def schema(self) -> Schema:
        if self._schema is None:
            doc = await self.meta.find_one({"_id": SCHEMA_ID})
            self._schema = Schema.from_list(doc["attributes"]) if doc else DEFAULT_SCHEMA
        return self._schema

    async def set_schema(self, schema: Schema) -> None:
        await self.meta.replace_one({"_id": SCHEMA_ID}, {"attributes": schema.to_list()}, upsert=True)
        self._schema = schema
        await self.ensure_indexes()

    async def parse(self, phone: str, name: Optional[str] = None,
                    attrs: Optional[Mapping[str, Any]] = None, tags: Sequence[str] = ()) -> ContactInput:
        """Validate raw input into a ContactInput (InvalidInput with the reason otherwise)."""
        # JSON callers can send any type: refuse wrong shapes with a 400, not a 500 halfway through.
        if name is not None and not isinstance(name, str):
            raise InvalidInput("name must be a string")
        if attrs is not None and not isinstance(attrs, Mapping):
            raise InvalidInput("attributes must be an object")
        if isinstance(tags, str) or not isinstance(tags, Sequence) or not all(isinstance(t, str) for t in tags):
            raise InvalidInput("tags must be a list of strings")
        e164 = phones.normalize(phone, self.region)
        typed = (await self.schema()).coerce_all(attrs or {})
        clean_tags = [t.strip().lower() for t in tags if t and t.strip()]
        return ContactInput(phones.wa_id(e164), e164, (name or "").strip() or None, typed, clean_tags)

    async def upsert(self, contact: ContactInput) -> Dict[str, Any]:
        await self.col.update_one({"_id": contact.wa_id}, contact.update(), upsert=True)
        return await self.get(contact.wa_id)

    async def bulk_upsert(self, contacts: Iterable[ContactInput]) -> UpsertCounts:
        ops = [UpdateOne({"_id": c.wa_id}, c.update(), upsert=True) for c in contacts]
        if not ops:
            return UpsertCounts()
        result = await self.col.bulk_write(ops, ordered=False)
        return UpsertCounts(result.upserted_count, result.modified_count,
                            result.matched_count - result.modified_count)

    async def get(self, wa_id: str) -> Dict[str, Any]:
        doc = await self.col.find_one({"_id": wa_id})
        if doc is None:
            raise NotFound(f"no contact {wa_id}")
        return doc

    def wa_id_of(self, phone: str) -> str:
        try:
            return phones.wa_id(phones.normalize(phone, self.region))
        except InvalidInput:
            if phone.isdigit():
                return phone
            raise

    async def find(self, query: Mapping[str, Any], limit: int = 50, skip: int = 0) -> List[Dict[str, Any]]:
        cursor = self.col.find(dict(query)).sort("_id", ASCENDING).skip(skip).limit(limit)
        return [doc async for doc in cursor]

    async def touch_inbound(self, wa_id: str, at: datetime, name: str = "") -> None:
        """Record an inbound message (creates the contact: a customer who wrote to us exists)."""
        sets: Dict[str, Any] = {"last_inbound_at": at}
        on_insert: Dict[str, Any] = {"phone": "+" + wa_id, "created_at": utcnow()}
        if name:
            on_insert["name"] = name
        # $max moves it forward only; a point update (a condition on last_inbound_at as well made
        # SecantusDB scan every contact for each inbound message: README, Segments)
        await self.col.update_one({"_id": wa_id}, {"$max": sets})
        await self.col.update_one({"_id": wa_id}, {"$setOnInsert": {**on_insert, **sets}}, upsert=True)

    async def mark_unreachable(self, wa_id: str, code: int) -> None:
        await self.col.update_one({"_id": wa_id}, {"$set": {"unreachable": {"code": code, "at": utcnow()}}})

    async def delete(self, wa_id: str) -> bool:
        return (await self.col.delete_one({"_id": wa_id})).deleted_count == 1

"""Segments: a small JSON filter language over contacts, compiled to MongoDB queries.

A filter is a condition or a group:
    {"all": [cond, ...]}   {"any": [cond, ...]}   {"not": cond}
Conditions:
    {"attr": "gender", "op": "eq", "value": "female"}          ops: eq, ne, in, nin, gte, lte, range, exists
    {"attr": "shoe_size", "op": "range", "gte": 6, "lte": 8}
    {"attr": "city", "op": "exists", "value": true}
    {"tags": "any", "values": ["vip", "newsletter"]}          or "all", "none"
    {"consent": "marketing", "value": "opted_in"}              opted_in | opted_out | unknown
    {"inbound_within_days": 7}                                 last inbound message within N days
Values are coerced through the attribute schema ("6" matches shoe_size 6). Every attribute,
tags, consent and last_inbound_at are indexed (ContactStore.ensure_indexes).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional

from pymongo import ASCENDING

from .errors import InvalidInput, NotFound
from .schema import Schema

ATTR_OPS = ("eq", "ne", "in", "nin", "gte", "lte", "range", "exists")


def compile_filter(node: Any, schema: Schema, now: Optional[datetime] = None) -> Dict[str, Any]:
    """The MongoDB query of a filter (InvalidInput naming what is wrong)."""
    if not isinstance(node, Mapping) or not node:
        return {}
    now = now or datetime.now(timezone.utc)
    for group, op in (("all", "$and"), ("any", "$or")):
        if group in node:
            items = node[group]
            if not isinstance(items, list):
                raise InvalidInput(f"'{group}' takes a list")
            parts = [q for q in (compile_filter(i, schema, now) for i in items) if q]
            return {op: parts} if parts else {}
    if "not" in node:
        inner = compile_filter(node["not"], schema, now)
        return {"$nor": [inner]} if inner else {}
    if "attr" in node:
        return _attr(node, schema)
    if "tags" in node:
        values = [str(v).lower() for v in node.get("values") or []]
        mode = {"any": "$in", "all": "$all", "none": "$nin"}.get(node["tags"])
        if not mode or not values:
            raise InvalidInput("tags takes 'any'|'all'|'none' and a non-empty 'values'")
        return {"tags": {mode: values}}
    if "consent" in node:
        category, value = node["consent"], node.get("value", "opted_in")
        if category not in ("marketing", "utility") or value not in ("opted_in", "opted_out", "unknown"):
            raise InvalidInput("consent takes marketing|utility and opted_in|opted_out|unknown")
        field = f"consent.{category}.state"
        return {field: {"$exists": False}} if value == "unknown" else {field: value}
    if "inbound_within_days" in node:
        days = _number(node["inbound_within_days"], "inbound_within_days")
        return {"last_inbound_at": {"$gte": now - timedelta(days=days)}}
    raise InvalidInput(f"unknown condition {dict(node)!r}")


def _number(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a number") from None


def _attr(node: Mapping[str, Any], schema: Schema) -> Dict[str, Any]:
    attribute = schema.get(str(node["attr"]))
    op = node.get("op", "eq")
    if op not in ATTR_OPS:
        raise InvalidInput(f"unknown op {op!r}; use one of {', '.join(ATTR_OPS)}")
    field = f"attrs.{attribute.name}"
    coerce: Callable[[Any], Any] = attribute.coerce
    if op == "exists":
        return {field: {"$exists": bool(node.get("value", True))}}
    if op == "range":
        bounds = {f"${b}": coerce(node[b]) for b in ("gte", "lte") if node.get(b) is not None}
        if not bounds:
            raise InvalidInput("range needs gte and/or lte")
        return {field: bounds}
    if op in ("in", "nin"):
        values = node.get("value")
        if not isinstance(values, list):
            raise InvalidInput(f"{op} takes a list")
        return {field: {f"${op}": [coerce(v) for v in values]}}
    value = coerce(node.get("value"))
    return {field: value} if op == "eq" else {field: {f"${op}": value}}


class SegmentStore:
    """Saved segments (name + filter) and audience counts."""

    def __init__(self, db: Any, contacts: Any) -> None:
        self.col = db["segments"]
        self.contacts = contacts

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("name", ASCENDING)], unique=True)

    async def query(self, filter_: Mapping[str, Any]) -> Dict[str, Any]:
        return compile_filter(filter_, await self.contacts.schema())

    async def count(self, filter_: Mapping[str, Any]) -> int:
        return await self.contacts.col.count_documents(await self.query(filter_))

    async def save(self, segment_id: str, name: str, filter_: Mapping[str, Any]) -> Dict[str, Any]:
        await self.query(filter_)  # validate before saving
        doc = {"_id": segment_id, "name": name, "filter": dict(filter_),
               "updated_at": datetime.now(timezone.utc)}
        await self.col.replace_one({"_id": segment_id}, doc, upsert=True)
        return doc

    async def get(self, segment_id: str) -> Dict[str, Any]:
        doc = await self.col.find_one({"_id": segment_id})
        if doc is None:
            raise NotFound(f"no segment {segment_id}")
        return doc

    async def list(self) -> List[Dict[str, Any]]:
        return [d async for d in self.col.find().sort("name", ASCENDING)]

    async def delete(self, segment_id: str) -> bool:
        return (await self.col.delete_one({"_id": segment_id})).deleted_count == 1

"""The template library: synced with the Graph template API, variables mapped to contact fields.

A template document (``templates``, ``_id`` = Meta's template id) keeps what Meta says
(name, language, category, status, parameter_format, components) plus the parsed ``variables``
(``["1", "2"]`` positional or ``["first_name", ...]`` named) and ``quick_replies``. Status comes
from ``template.status_updated`` events and a periodic ``sync``; only APPROVED can be sent.

A variable mapping (kept on the campaign) says where each variable's value comes from:
``{"first_name": {"attr": "first_name", "default": "there"}, "discount": {"value": "20%"}}``;
``attr`` may also be ``name`` or ``phone``.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from pymongo import ASCENDING

from connectors import payloads

from .errors import InvalidInput, NotFound, TemplateNotSendable

VARIABLE = re.compile(r"{{\s*([a-z0-9_]+)\s*}}")
STOPPING = ("PAUSED", "DISABLED")
StatusHook = Callable[[Dict[str, Any], str], Awaitable[None]]


def variables_of(components: List[Mapping[str, Any]]) -> Tuple[List[str], List[str]]:
    """(body variables in order of first use, quick-reply button texts) of a template."""
    found: List[str] = []
    replies: List[str] = []
    for comp in components or []:
        kind = str(comp.get("type", "")).upper()
        if kind == "BODY":
            for name in VARIABLE.findall(str(comp.get("text", ""))):
                if name not in found:
                    found.append(name)
        if kind == "BUTTONS":
            replies += [b.get("text", "") for b in comp.get("buttons", []) if b.get("type") == "QUICK_REPLY"]
    if found and all(v.isdigit() for v in found):
        found.sort(key=int)
    return found, replies


def body_text(template: Mapping[str, Any]) -> str:
    for comp in template.get("components") or []:
        if str(comp.get("type", "")).upper() == "BODY":
            return str(comp.get("text", ""))
    return ""


def resolve(mapping: Mapping[str, Mapping[str, Any]], variables: List[str],
            contact: Mapping[str, Any]) -> Dict[str, str]:
    """Each variable's value for one contact (attribute, else default); InvalidInput if none."""
    values: Dict[str, str] = {}
    attrs = contact.get("attrs") or {}
    for var in variables:
        rule = mapping.get(var) or {}
        value: Any = rule.get("value")
        if value is None and rule.get("attr"):
            source = rule["attr"]
            value = contact.get(source) if source in ("name", "phone") else attrs.get(source)
        if value is None or value == "":
            value = rule.get("default")
        if value is None or value == "":
            raise InvalidInput(f"variable {var!r} has no value for {contact.get('_id')} and no default")
        values[var] = value.date().isoformat() if isinstance(value, datetime) else str(value)
    return values


def build_payload(template: Mapping[str, Any], values: Mapping[str, str]) -> Dict[str, Any]:
    """The Cloud API message body (without ``to``) of a template and resolved values."""
    variables = template.get("variables") or []
    named = template.get("parameter_format", "POSITIONAL").upper() == "NAMED"
    body: Any = None
    if variables:
        body = {v: values[v] for v in variables} if named else [values[v] for v in variables]
    return payloads.template(template["name"], template["language"], body=body)


def preview(template: Mapping[str, Any], values: Mapping[str, str]) -> str:
    """The body text as the recipient will read it."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), body_text(template))


def ensure_sendable(template: Mapping[str, Any]) -> None:
    if template.get("status") != "APPROVED":
        raise TemplateNotSendable(f"template {template.get('name')} is {template.get('status')}, not APPROVED")


class TemplateLibrary:
    """Templates in MongoDB, kept in step with the Graph API through a ``connectors.client.GraphClient``."""

    def __init__(self, db: Any, graph: Any = None, on_stop: Optional[StatusHook] = None) -> None:
        self.col = db["templates"]
        self.graph = graph
        self.on_stop = on_stop

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("name", ASCENDING), ("language", ASCENDING)])

    def _doc(self, t: Mapping[str, Any]) -> Dict[str, Any]:
        variables, replies = variables_of(t.get("components") or [])
        return {"_id": str(t["id"]), "name": t["name"], "language": t.get("language", "en"),
                "category": str(t.get("category", "")).lower(), "status": t.get("status", "PENDING"),
                "parameter_format": str(t.get("parameter_format") or "POSITIONAL").upper(),
                "components": t.get("components") or [], "variables": variables, "quick_replies": replies,
                "synced_at": datetime.now(timezone.utc)}

    async def sync(self) -> int:
        """Pull every page of the WABA's templates; returns how many were stored."""
        count, after = 0, None
        while True:
            page = await self.graph.list_templates(limit=100, after=after)
            for item in page.get("data", []):
                await self._store(self._doc(item))
                count += 1
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (page.get("paging") or {}).get("next"):
                return count

    async def _store(self, doc: Dict[str, Any]) -> None:
        before = await self.col.find_one_and_replace({"_id": doc["_id"]}, doc, upsert=True)
        if before is not None and before.get("status") != doc["status"]:
            await self._status_changed(doc)

    async def create(self, spec: Mapping[str, Any]) -> Dict[str, Any]:
        """Create and submit a template for review; stored as Meta answers (PENDING)."""
        for key in ("name", "language", "category", "components"):
            if key not in spec:
                raise InvalidInput(f"template needs {key!r}")
        answer = await self.graph.create_template(dict(spec))
        doc = self._doc({**spec, "id": answer["id"], "status": answer.get("status", "PENDING"),
                         "category": answer.get("category", spec["category"])})
        await self.col.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return doc

    async def set_status(self, template_id: str, status: str, reason: Any = None,
                         name: str = "", language: str = "") -> Optional[Dict[str, Any]]:
        """Apply a ``template.status_updated`` event (by id, else by name + language)."""
        query: Dict[str, Any] = {"_id": template_id} if template_id else {"name": name, "language": language}
        result = await self.col.update_one(
            {**query, "status": {"$ne": status}}, {"$set": {"status": status, "status_reason": reason,
                                                           "status_at": datetime.now(timezone.utc)}})
        if not result.modified_count:
            return None
        doc = await self.col.find_one(query)
        if doc is not None:
            await self._status_changed(doc)
        return doc

    async def _status_changed(self, doc: Dict[str, Any]) -> None:
        if doc["status"] in STOPPING and self.on_stop is not None:
            await self.on_stop(doc, doc["status"])

    async def get(self, template_id: str) -> Dict[str, Any]:
        doc = await self.col.find_one({"_id": template_id})
        if doc is None:
            doc = await self.col.find_one({"name": template_id})
        if doc is None:
            raise NotFound(f"no template {template_id}")
        return doc

    async def list(self) -> List[Dict[str, Any]]:
        return [d async for d in self.col.find().sort([("name", ASCENDING), ("language", ASCENDING)])]

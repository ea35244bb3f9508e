"""CRM webhook subscriptions (MongoDB ``crm_webhooks``).

Document: ``{_id, url, events: [pattern], description, active, secret, created_at, updated_at}``.
The secret is generated here, returned only by `create` and `rotate_secret`, and kept so the
sender can sign; every other read leaves it out (`PUBLIC`).
"""
from __future__ import annotations

import uuid
from typing import Any, Dict, List, Mapping
from urllib.parse import urlsplit

from ..contacts import utcnow
from ..errors import InvalidInput, NotFound
from .catalog import pattern_problem
from .signing import new_secret

#: Projection of every read that leaves the process (API answers): never the secret.
PUBLIC = {"secret": 0}
EDITABLE = ("url", "events", "description", "active")
MAX_URL = 2048


def check_url(url: Any) -> str:
    """An absolute http(s) URL with a host and no credentials, else InvalidInput saying why."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("url is required: the http(s) address Parley will POST events to")
    url = url.strip()
    if len(url) > MAX_URL:
        raise InvalidInput(f"url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidInput(f"url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url must start with http:// or https://")
    if not parts.hostname:
        raise InvalidInput("url has no host")
    if parts.username or parts.password:
        raise InvalidInput("url must not contain credentials; verify X-Parley-Signature instead")
    if parts.fragment or any(c.isspace() for c in url):
        raise InvalidInput("url must not contain a #fragment or whitespace")
    return url


def check_events(patterns: Any) -> List[str]:
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise InvalidInput('events must be a non-empty list of event types, e.g. ["campaign.*", "message.delivered"]')
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem:
            raise InvalidInput(problem)
    return sorted(set(patterns))


def _clean(spec: Mapping[str, Any]) -> Dict[str, Any]:
    doc: Dict[str, Any] = {}
    if "url" in spec:
        doc["url"] = check_url(spec["url"])
    if "events" in spec:
        doc["events"] = check_events(spec["events"])
    if "description" in spec:
        doc["description"] = str(spec["description"] or "")[:500]
    if "active" in spec:
        if not isinstance(spec["active"], bool):
            raise InvalidInput("active must be true or false")
        doc["active"] = spec["active"]
    return doc


class SubscriptionStore:
    def __init__(self, db: Any) -> None:
        self.col = db["crm_webhooks"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("active")

    async def create(self, spec: Mapping[str, Any]) -> Dict[str, Any]:
        """A new subscription; the answer is the only one that carries its secret."""
        # url and events are always checked, so a missing one gets its own clear message
        doc = _clean({"active": True, "description": "", **spec, "url": spec.get("url"), "events": spec.get("events")})
        now = utcnow()
        doc.update(_id=uuid.uuid4().hex[:12], secret=new_secret(), created_at=now, updated_at=now)
        await self.col.insert_one(doc)
        return doc

    async def update(self, webhook_id: str, changes: Mapping[str, Any]) -> Dict[str, Any]:
        sets = _clean({k: changes[k] for k in EDITABLE if k in changes})
        sets["updated_at"] = utcnow()
        result = await self.col.update_one({"_id": webhook_id}, {"$set": sets})
        if not result.matched_count:
            raise NotFound(f"no webhook {webhook_id}")
        return await self.get(webhook_id)

    async def rotate_secret(self, webhook_id: str) -> Dict[str, Any]:
        """Replace the secret at once (deliveries from now on are signed with the new one)."""
        secret = new_secret()
        result = await self.col.update_one({"_id": webhook_id},
                                           {"$set": {"secret": secret, "updated_at": utcnow()}})
        if not result.matched_count:
            raise NotFound(f"no webhook {webhook_id}")
        return {"_id": webhook_id, "secret": secret}

    async def get(self, webhook_id: str) -> Dict[str, Any]:
        doc = await self.col.find_one({"_id": webhook_id}, PUBLIC)
        if doc is None:
            raise NotFound(f"no webhook {webhook_id}")
        return doc

    async def list(self) -> List[Dict[str, Any]]:
        return [d async for d in self.col.find({}, PUBLIC).sort("created_at", 1)]

    async def delete(self, webhook_id: str) -> bool:
        return bool((await self.col.delete_one({"_id": webhook_id})).deleted_count)

    async def active(self) -> List[Dict[str, Any]]:
        """Active subscriptions WITH their secrets (for the dispatcher and sender only)."""
        return [d async for d in self.col.find({"active": True})]

    async def with_secrets(self, ids: List[str]) -> Dict[str, Dict[str, Any]]:
        return {d["_id"]: d async for d in self.col.find({"_id": {"$in": ids}})}

    async def inactive_ids(self) -> List[str]:
        return [d["_id"] async for d in self.col.find({"active": False}, {"_id": 1})]

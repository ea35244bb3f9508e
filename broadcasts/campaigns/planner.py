"""Pre-flight of a campaign: who would get it, who is excluded and why, what it costs, how long.

The same ``Audience.walk`` decides eligibility for the pre-flight numbers and for the snapshot
at start, so the two can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Dict, Mapping, Optional, Set, Tuple

from .. import phones
from ..consent import Consent, Source, State, allows
from ..errors import InvalidInput
from ..templates import resolve
from .pacing import campaign_rate


@dataclass
class Plan:
    audience: int = 0
    eligible: int = 0
    excluded: Dict[str, int] = field(default_factory=dict)
    by_category: Dict[str, int] = field(default_factory=dict)
    cost: float = 0.0
    currency: str = "USD"
    duration_seconds: float = 0.0

    def exclude(self, reason: str) -> None:
        self.excluded[reason] = self.excluded.get(reason, 0) + 1

    def to_dict(self) -> Dict[str, Any]:
        return {"audience": self.audience, "eligible": self.eligible, "excluded": self.excluded,
                "by_category": self.by_category, "estimated_cost": round(self.cost, 4),
                "currency": self.currency, "estimated_duration_seconds": round(self.duration_seconds, 1)}


def price(prices: Mapping[str, Mapping[str, float]], category: str, wa_id: str) -> float:
    table = prices.get(category) or {}
    return float(table.get(phones.country_code(wa_id), table.get("*", 0.0)))


def _consent(contact: Mapping[str, Any], category: str) -> Optional[Consent]:
    value = (contact.get("consent") or {}).get(category)
    if not value:
        return None
    return Consent(State(value["state"]), value["at"], Source.parse(value.get("source")))


class Audience:
    """Walks a campaign's segment and yields the eligible contacts with their variable values."""

    def __init__(self, contacts: Any, segments: Any, recipients_col: Any, settings: Any) -> None:
        self.contacts, self.segments, self.recipients_col, self.settings = contacts, segments, recipients_col, settings

    async def capped(self, category: str) -> Set[str]:
        """Contacts at the marketing frequency cap (N sends in the last D days)."""
        if category != "marketing" or self.settings.frequency_cap <= 0:
            return set()
        since = datetime.now(timezone.utc) - timedelta(days=self.settings.frequency_days)
        pipeline = [{"$match": {"category": "marketing", "sent_at": {"$gte": since}}},
                    {"$group": {"_id": "$wa_id", "n": {"$sum": 1}}},
                    {"$match": {"n": {"$gte": self.settings.frequency_cap}}}]
        return {d["_id"] async for d in self.recipients_col.aggregate(pipeline)}

    async def walk(self, campaign: Mapping[str, Any], template: Mapping[str, Any],
                   plan: Plan) -> AsyncIterator[Tuple[str, Dict[str, str]]]:
        segment = campaign.get("segment") or {}
        filter_ = (await self.segments.get(segment["segment_id"]))["filter"] if segment.get("segment_id") \
            else segment.get("filter", {})
        query = await self.segments.query(filter_)
        category = template.get("category") or "marketing"
        capped = await self.capped(category)
        mapping = campaign.get("variables") or {}
        projection = {"phone": 1, "name": 1, "attrs": 1, "consent": 1, "unreachable": 1}
        async for contact in self.contacts.col.find(query, projection):
            plan.audience += 1
            wa_id = contact["_id"]
            if not allows(_consent(contact, category), category):
                plan.exclude("no_consent")
                continue
            if contact.get("unreachable"):
                plan.exclude("invalid_number")
                continue
            if wa_id in capped:
                plan.exclude("frequency_cap")
                continue
            try:
                values = resolve(mapping, template.get("variables") or [], contact)
            except InvalidInput:
                plan.exclude("missing_variable")
                continue
            plan.eligible += 1
            plan.by_category[category] = plan.by_category.get(category, 0) + 1
            plan.cost += price(self.settings.prices, category, wa_id)
            yield wa_id, values
        rate = campaign_rate(campaign, self.settings.default_rate)
        plan.duration_seconds = plan.eligible / rate if rate > 0 else 0.0

    async def preflight(self, campaign: Mapping[str, Any], template: Mapping[str, Any]) -> Plan:
        plan = Plan()
        async for _ in self.walk(campaign, template, plan):
            pass
        return plan

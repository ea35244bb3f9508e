"""Which internal events a CRM can subscribe to, and the webhook body each one becomes.

Deliverable: every ``campaign.*`` event (one per campaign state, plus ``campaign.replied``)
and the statuses of campaign messages (``message.sent|delivered|read|failed`` whose
``biz_opaque_callback_data`` is ``campaign:{id}:{wa_id}``). Subscriptions name exact types or
prefix wildcards (``campaign.*``, ``message.*``, ``*``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, FrozenSet, Iterable, Optional, Tuple

from connectors import events
from connectors.events import Event

from ..campaigns.followups import CAMPAIGN_REPLIED
from ..campaigns.recipients import parse_id
from ..campaigns.state import CampaignState

STATUS_TYPES = (events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ, events.MESSAGE_FAILED)
EVENT_TYPES: FrozenSet[str] = frozenset(
    [f"campaign.{state.value}" for state in CampaignState] + [CAMPAIGN_REPLIED, *STATUS_TYPES])
WILDCARD = "*"


def pattern_problem(pattern: str) -> Optional[str]:
    """Why ``pattern`` matches no deliverable event type (None when it is fine)."""
    if any(matches(pattern, kind) for kind in EVENT_TYPES):
        return None
    return f"{pattern!r} matches no event type; use one of {', '.join(sorted(EVENT_TYPES))} or a prefix like campaign.*"


def matches(pattern: str, kind: str) -> bool:
    if pattern == WILDCARD:
        return True
    if pattern.endswith(".*"):
        return kind.startswith(pattern[:-1])
    return pattern == kind


def wanted(patterns: Iterable[str], kind: str) -> bool:
    return any(matches(p, kind) for p in patterns)


def webhook_event(event: Event) -> Optional[Tuple[str, Dict[str, Any]]]:
    """(type, data) of the webhook an internal event becomes, or None if CRMs never see it."""
    if event.type.startswith("campaign.") and event.type in EVENT_TYPES:
        return event.type, dict(event.data)
    if event.type not in STATUS_TYPES:
        return None
    data = event.data
    callback = str(data.get("biz_opaque_callback_data") or "")
    if not callback.startswith("campaign:") or callback.count(":") < 2:
        return None
    campaign_id, wa_id = parse_id(callback)
    error = (data.get("errors") or [None])[0] or None
    return event.type, {
        "campaign_id": campaign_id, "wa_id": data.get("wa_id") or wa_id, "wamid": data.get("wamid"),
        "status": data.get("status"), "timestamp": data.get("timestamp"),
        "error_code": error.get("code") if error else None, "error": error,
    }


def created_at(event: Event) -> str:
    """The event's time, ISO 8601 UTC."""
    return datetime.fromtimestamp(event.ts, timezone.utc).isoformat().replace("+00:00", "Z")

"""Small helpers every action uses: who the customer is, what they just said."""
from __future__ import annotations

import uuid
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

HUMAN_BUTTON = {"title": "Talk to a human", "payload": "/human_handoff"}


def wa_id(tracker: Tracker) -> str:
    """The customer's WhatsApp id: Parley's channel uses it as the Rasa sender id."""
    return tracker.sender_id


def latest_intent(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("intent", {}).get("name") or ""


def latest_user_event(tracker: Tracker) -> Dict[str, Any]:
    """The customer's latest `user` event (it carries message_id and metadata; parse data does not)."""
    return next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})


def message_id(tracker: Tracker) -> str:
    """The id of the customer's latest message (the wamid), for idempotency keys."""
    mid = latest_user_event(tracker).get("message_id") or (tracker.latest_message or {}).get("message_id")
    return str(mid) if mid else uuid.uuid4().hex


def latest_entity(tracker: Tracker, entity: str) -> Optional[str]:
    """The entity's value in the latest message, else None."""
    return next(tracker.get_latest_entity_values(entity), None)


def entity_or_slot(tracker: Tracker, name: str) -> Optional[str]:
    value = latest_entity(tracker, name) or tracker.get_slot(name)
    return str(value) if value else None


def customer_name(tracker: Tracker) -> str:
    name = tracker.get_slot("customer_name")
    if not name:
        name = (latest_user_event(tracker).get("metadata") or {}).get("name")
    return str(name or "")


def session_events(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events of the current session (after the last session_started)."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index + 1:]
    return events

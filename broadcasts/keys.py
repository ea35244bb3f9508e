"""Redis names private to broadcasts (shared names live in connectors.keys).

Kept here because broadcasts owns no file under connectors/; they all start with the shared
prefix so `connectors.keys.PREFIX` stays the one root.
"""
from __future__ import annotations

from connectors.keys import PREFIX

#: Consumer group of broadcasts on connectors.keys.EVENTS_STREAM.
EVENTS_GROUP = "broadcasts"
#: Consumer group of the CRM webhook dispatcher (broadcasts/crm) on the same stream.
CRM_GROUP = "crm-webhooks"
#: Campaign send queues, one stream per priority (workers drain high before normal before low).
PRIORITIES = ("high", "normal", "low")
#: Consumer group of send workers on each queue stream.
QUEUE_GROUP = "senders"


def queue(priority: str) -> str:
    """Stream of recipient send jobs: fields ``campaign``, ``wa_id``."""
    return f"{PREFIX}:bc:queue:{priority}"


def campaign_control(campaign_id: str) -> str:
    """String: the campaign's current state, read by workers before every send."""
    return f"{PREFIX}:bc:control:{campaign_id}"


def campaign_pace(campaign_id: str) -> str:
    """GCRA theoretical-arrival time of the campaign's send rate (shared by every worker)."""
    return f"{PREFIX}:bc:pace:{campaign_id}"



def worker_alive(name: str) -> str:
    """String with a short TTL, refreshed by a running send worker or event consumer (``name`` is
    its name plus run): its claims are not reclaimed, its open group commits not taken over."""
    return f"{PREFIX}:bc:worker:{name}"

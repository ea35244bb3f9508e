"""Redis names private to the handoff service (shared names live in connectors.keys).

All under ``parley:handoff:``; documented in docs/contracts.md.
"""
from __future__ import annotations

from connectors.keys import PREFIX

BASE = f"{PREFIX}:handoff"

#: The console's live feed: ticket changes and the messages of tracked conversations. Its
#: stream ids are the monotonically increasing ids a reconnecting console resends.
LIVE_STREAM = f"{BASE}:live"
LIVE_MAXLEN = 20_000

#: Consumer groups of the handoff service.
TICKETS_GROUP = "handoff-tickets"        # on EVENTS_STREAM: handoff.requested -> tickets
TRANSCRIPT_GROUP = "handoff-transcript"  # on EVENTS_STREAM: messages -> MongoDB, in batches
LIVE_GROUP = "handoff-live"              # on EVENTS_STREAM + HANDOFF_INBOX_STREAM -> LIVE_STREAM


def session(session_id_hash: str) -> str:
    """Hash of one console session (agent, role, csrf), keyed by the hashed cookie value."""
    return f"{BASE}:session:{session_id_hash}"


def login_failures(username: str, ip: str) -> str:
    """Counter of failed logins for one (username, client IP) pair, with a TTL."""
    return f"{BASE}:login:{username.lower()}:{ip}"


def tracked(wa_id: str) -> str:
    """Present while the transcript writer records this customer's messages."""
    return f"{BASE}:tracked:{wa_id}"


def closed(ticket_id: str) -> str:
    """Tombstone of a closed ticket's last sequence number: late ownership writes of it lose."""
    return f"{BASE}:closed:{ticket_id}"


def conversations(day: str) -> str:
    """HyperLogLog of the customers who wrote on `day` (YYYY-MM-DD): deflection's denominator."""
    return f"{BASE}:conversations:{day}"


def online(agent_id: str) -> str:
    """Presence of an agent with an open console (TTL, refreshed by the websocket)."""
    return f"{BASE}:online:{agent_id}"


def auto_assign_lock() -> str:
    return f"{BASE}:auto-assign-lock"

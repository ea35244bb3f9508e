"""Redis names private to the handoff service (shared names live in connectors.keys).

Why not in connectors.keys: that module holds the names two packages meet on (the ownership
hash, the events stream, the handoff inbox, windows...) and must import on both Python
environments. Everything here is read and written by handoff processes only: console sessions,
login counters, the console's live feed, agent presence, the auto-assigner's lock and cursor.
Nothing outside handoff may touch them, so they live in handoff's own namespace
``parley:handoff:*`` (a prefix no shared name uses except ``HANDOFF_INBOX_STREAM``, which
connectors.keys owns), listed in docs/contracts.md. There is still one place per package where
key names are spelled: this file.
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
    """Presence of an agent: sorted set of the agent's open console connections, score = when
    each one's heartbeat expires (unix s); the key itself expires with the last one."""
    return f"{BASE}:online:{agent_id}"


#: Lease making one replica at a time the auto-assigner (SET NX PX, value = consumer name).
AUTO_ASSIGN_LOCK = f"{BASE}:assign:lock"
#: Round-robin cursor: the id of the agent who got the last auto-assigned chat.
ASSIGN_CURSOR = f"{BASE}:assign:cursor"


def queue_notice(ticket_id: str, waiting_since: str) -> str:
    """SET NX claim: the customer of this ticket was told their place in this queue stint."""
    return f"{BASE}:queue-notice:{ticket_id}:{waiting_since}"

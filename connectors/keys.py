"""Every Redis key and stream name Parley uses, in one place.

Producers and consumers in both environments (bot env and services env) import these, so a
name can never drift between the connector, the bot's actions, handoff and broadcasts.
"""
from __future__ import annotations

PREFIX = "parley"

# Streams ---------------------------------------------------------------------------------
#: Raw, signature-checked webhook bodies, appended by the Rasa channel before it answers 200:
#: every body except the status-only ones (customer messages, echoes, any other field).
INBOUND_STREAM = f"{PREFIX}:inbound"
#: Raw bodies made solely of delivery statuses, kept apart so that customer messages never wait
#: behind a campaign's status flood; the fan-out reads it only when INBOUND_STREAM has nothing.
INBOUND_STATUS_STREAM = f"{PREFIX}:inbound:statuses"
#: Consumer group of the connector's workers on INBOUND_STREAM and INBOUND_STATUS_STREAM.
INBOUND_GROUP = "connector"
#: Internal events (one model, see connectors.events): message.*, handoff.*, contact.*, campaign.*
EVENTS_STREAM = f"{PREFIX}:events"
#: Customer messages of conversations a human owns; the handoff service's live inbox.
HANDOFF_INBOX_STREAM = f"{PREFIX}:handoff:inbox"


def seen_message(wamid: str) -> str:
    """SET NX claim of one inbound wamid, so a Meta retry never reaches the bot twice."""
    return f"{PREFIX}:seen:{wamid}"


def seen_status(wamid: str, status: str) -> str:
    """SET NX claim of one (wamid, status) pair."""
    return f"{PREFIX}:seen-status:{wamid}:{status}"


def window(phone_number_id: str, wa_id: str) -> str:
    """Unix time of the customer's last inbound message; expires with the 24-hour window."""
    return f"{PREFIX}:window:{phone_number_id}:{wa_id}"


def ownership(wa_id: str) -> str:
    """Hash: who owns the customer's conversation (absent means the bot). See connectors.ownership."""
    return f"{PREFIX}:owner:{wa_id}"


def contact_lock(wa_id: str) -> str:
    """Short lease that serialises one contact's messages across connector replicas."""
    return f"{PREFIX}:contact-lock:{wa_id}"


def rate_bucket(phone_number_id: str) -> str:
    """Token bucket of one business number's throughput."""
    return f"{PREFIX}:bucket:{phone_number_id}"


def pair_rate(phone_number_id: str, wa_id: str) -> str:
    """Pair-rate budget of one (business number, customer) pair."""
    return f"{PREFIX}:pair:{phone_number_id}:{wa_id}"


def consent_optout(wa_id: str) -> str:
    """Fast-path copy of the consent ledger's marketing opt-out for one customer."""
    return f"{PREFIX}:optout:{wa_id}"


# Inbound pipeline (connectors.consumer / connectors.partitions) -------------------------------
#: Consumer group of the lease holder on each partition stream.
PARTITION_GROUP = "partition"
#: Live connector replicas: sorted set, member = consumer name, score = heartbeat expiry (unix s).
INBOUND_CONSUMERS = f"{PREFIX}:inbound:consumers"
#: Inbound messages whose processing kept failing, parked after the retry budget (raw item JSON).
INBOUND_DEAD_STREAM = f"{PREFIX}:inbound:dead"


def inbound_partition(index: int) -> str:
    """Stream of one partition of contacts' messages (contact -> partition by a stable hash)."""
    return f"{PREFIX}:inbound:p:{index}"


def partition_lease(index: int) -> str:
    """Lease (SET NX PX, value = consumer name) making one replica the only reader of a partition."""
    return f"{PREFIX}:inbound:lease:{index}"


def seen_event(event_id: str) -> str:
    """SET NX claim of one webhook-derived event without a wamid (template updates, preferences...)."""
    return f"{PREFIX}:seen-event:{event_id}"


# Rasa tracker archive (bot.stores) ---------------------------------------------------------------
#: Finished Rasa sessions waiting to be written behind to MongoDB (field `doc`, JSON).
TRACKER_ARCHIVE_STREAM = f"{PREFIX}:tracker:archive"
#: Consumer group of the archive flushers.
TRACKER_ARCHIVE_GROUP = "archiver"

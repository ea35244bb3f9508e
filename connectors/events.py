"""The one model of Parley's internal events, carried on Redis streams.

A stream entry has three fields: ``type`` (e.g. ``message.delivered``), ``data`` (a JSON
object) and ``ts`` (Unix seconds, float, as text). ``id`` is the event's idempotency key,
chosen by the producer (for a status: ``{wamid}:{status}``), so consumers can drop repeats.
An optional fourth field, ``trace``, is the trace id of the inbound message the event belongs
to (observability.trace): set by default from the one bound where the event is made, absent
from the entry when there is none; entries without it parse as ``trace=""``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping

from observability import trace as _trace

# Event types --------------------------------------------------------------------------
MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_READ = "message.read"
MESSAGE_FAILED = "message.failed"
MESSAGE_OUTBOUND = "message.outbound"  # Parley sent something (bot, agent, campaign)
HANDOFF_REQUESTED = "handoff.requested"
HANDOFF_ASSIGNED = "handoff.assigned"
HANDOFF_TRANSFERRED = "handoff.transferred"
HANDOFF_RESOLVED = "handoff.resolved"
HANDOFF_TIMED_OUT = "handoff.timed_out"
CONTACT_OPTED_IN = "contact.opted_in"
CONTACT_OPTED_OUT = "contact.opted_out"
# Webhook-derived events (connectors.mapping) -----------------------------------------------
MESSAGE_PLAYED = "message.played"  # first play of a voice message
MESSAGE_STATUS_OTHER = "message.status"  # a status value Parley does not know yet (data.status)
MESSAGE_ECHO = "message.echo"  # a human replied from the WhatsApp Business app (smb_message_echoes)
MESSAGE_DEAD_LETTERED = "message.dead_lettered"  # inbound processing failed past its retry budget
TEMPLATE_STATUS_UPDATED = "template.status_updated"
TEMPLATE_QUALITY_UPDATED = "template.quality_updated"
TEMPLATE_CATEGORY_UPDATED = "template.category_updated"
ACCOUNT_UPDATED = "account.updated"  # account_update, phone_number_quality_update, business_capability_update
WEBHOOK_ERROR = "webhook.error"  # value.errors: system or app level problem reported by Meta
WEBHOOK_FIELD = "webhook.field"  # any other subscribed field, data = {"field", "waba_id", "time", "value"}
WEBHOOK_MALFORMED = "webhook.malformed"  # a signed body that was not a JSON object


@dataclass(frozen=True)
class Event:
    """One internal event."""

    type: str
    id: str
    data: Dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    trace: str = field(default_factory=_trace.current)

    def to_fields(self) -> Dict[str, str]:
        """The stream entry's fields."""
        fields = {
            "type": self.type,
            "id": self.id,
            "data": json.dumps(self.data, separators=(",", ":"), ensure_ascii=False),
            "ts": repr(self.ts),
        }
        if self.trace:
            fields["trace"] = self.trace
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> "Event":
        """Parse a stream entry (bytes or str keys and values)."""
        text = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            type=text["type"],
            id=text.get("id", ""),
            data=json.loads(text.get("data") or "{}"),
            ts=float(text.get("ts") or 0.0),
            trace=text.get("trace", ""),
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""The one ownership record every speaker asks before talking to a customer.

Stored as a Redis hash at ``keys.ownership(wa_id)``; an absent key means the bot owns the
conversation. Handoff writes it (through its named transitions); the connector, the bot's
actions and campaign follow-ups read it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping, Optional


class Owner(str, enum.Enum):
    BOT = "bot"
    QUEUED = "queued"        # waiting for an agent; the bot stays quiet
    ASSIGNED = "assigned"    # an agent owns it
    HUMAN_APP = "human_app"  # a human replied from the WhatsApp Business app (TTL on the key)
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: Optional[str]) -> "Owner":
        if not value:
            return cls.BOT
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_human(self) -> bool:
        """True when the bot must not answer: anything but the bot (unknown is safe-side human)."""
        return self is not Owner.BOT


@dataclass(frozen=True)
class Ownership:
    owner: Owner
    agent: str = ""
    ticket_id: str = ""

    @classmethod
    def from_hash(cls, fields: Mapping[Any, Any]) -> "Ownership":
        text = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls(Owner.parse(text.get("owner")), text.get("agent", ""), text.get("ticket_id", ""))

    def to_hash(self) -> dict:
        return {"owner": self.owner.value, "agent": self.agent, "ticket_id": self.ticket_id}


BOT = Ownership(Owner.BOT)

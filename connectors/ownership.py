"""The one ownership record every speaker asks before talking to a customer.

Stored as a Redis hash at ``keys.ownership(wa_id)``; an absent key means the bot owns the
conversation. Handoff writes it (through its named transitions); the connector, the bot's
actions and campaign follow-ups read it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from . import keys


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


# Redis access (async client of either environment) ----------------------------------------------
_MARK_HUMAN_APP = """
local o = redis.call('HGET', KEYS[1], 'owner')
if o == false or o == 'bot' or o == 'human_app' or o == '' then
  redis.call('HSET', KEYS[1], 'owner', 'human_app', 'agent', '', 'ticket_id', '')
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


async def load(redis: Any, wa_id: str) -> Ownership:
    """The current ownership of ``wa_id``'s conversation (absent key: the bot)."""
    return Ownership.from_hash(await redis.hgetall(keys.ownership(wa_id)))


async def mark_human_app(redis: Any, wa_id: str, ttl_s: int) -> bool:
    """A human answered from the WhatsApp Business app: silence the bot for ``ttl_s`` seconds.

    Leaves queued/assigned conversations alone (an agent's claim wins); refreshes the TTL of an
    existing human_app claim. True when the record was written. Writers of queued/assigned
    must replace the whole key (DEL + HSET, or PERSIST) so this TTL never outlives them.
    """
    return bool(await redis.eval(_MARK_HUMAN_APP, 1, keys.ownership(wa_id), int(ttl_s)))

"""After a transition: update the ownership record, emit the public event, feed the console.

All three happen in one Redis MULTI. Ownership writes are ordered by (ticket id, sequence) in
a Lua script, so a late write of an older transition can never overwrite a newer one (ticket
ids sort by creation time; the sequence is the audit length).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from connectors import keys as shared_keys
from connectors.events import Event
from connectors.ownership import Ownership
from handoff import keys
from handoff.models import Ticket

_OWNERSHIP_SCRIPT = """
local stored_ticket = redis.call('HGET', KEYS[1], 'ticket_id')
local stored_seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local tomb = tonumber(redis.call('GET', KEYS[2]) or '0')
local seq = tonumber(ARGV[2])
if tomb >= seq then return 0 end
if stored_ticket and stored_ticket ~= '' then
  if stored_ticket > ARGV[1] then return 0 end
  if stored_ticket == ARGV[1] and stored_seq >= seq then return 0 end
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], seq, 'EX', 3600)
else
  redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'agent', ARGV[4], 'ticket_id', ARGV[1], 'seq', seq)
end
return 1
"""


class Publisher:
    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._script = redis.register_script(_OWNERSHIP_SCRIPT)

    async def publish(self, ticket: Ticket, event_type: Optional[str], data: Dict[str, Any],
                      action: str, by: str) -> None:
        """Write ownership for `ticket`; emit `event_type` (None: no public event); feed the
        console with the ticket's summary."""
        seq = len(ticket.audit)
        owner = ticket.status.owner
        ownership = Ownership(owner, ticket.agent, ticket.id)
        fields = ownership.to_hash() if owner.is_human else {"owner": "", "agent": ""}
        event_id = f"{ticket.id}:{seq}"
        async with self._redis.pipeline(transaction=True) as pipe:
            await self._script(keys=[shared_keys.ownership(ticket.wa_id), keys.closed(ticket.id)],
                               args=[ticket.id, seq, fields["owner"], fields["agent"]],
                               client=pipe)
            if event_type:
                event = Event(event_type, event_id, {"ticket_id": ticket.id, "wa_id": ticket.wa_id,
                                                     **data})
                pipe.xadd(shared_keys.EVENTS_STREAM, event.to_fields())
            live = Event("ticket", event_id, {**ticket.summary(), "action": action, "by": by})
            pipe.xadd(keys.LIVE_STREAM, live.to_fields(), maxlen=keys.LIVE_MAXLEN,
                      approximate=True)
            await pipe.execute()

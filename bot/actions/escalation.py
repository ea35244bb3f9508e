"""Handing a conversation to the human team: the context agents see and the Redis write.

The request is one Lua script, so either both happen or neither: the ownership record moves
bot -> queued (keys.ownership, connectors.ownership) and ``handoff.requested`` is appended to
the events stream for the handoff service. A conversation some human already owns is left as is.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

from connectors import events, keys
from connectors.events import Event
from connectors.ownership import Owner, Ownership

from .common import session_events

MAX_TURNS = 10
MAX_TURN_CHARS = 500
# Slots that only steer the bot itself; agents do not need them.
_INTERNAL_SLOTS = {"requested_slot", "fallback_step", "handoff_offered", "handoff_reason",
                   "session_started_metadata"}
_NOT_A_TOPIC = {"human_handoff", "affirm", "deny", "restart_chat", ""}

_REQUEST = """
local current = redis.call('HGET', KEYS[1], 'owner')
if current and current ~= '' and current ~= 'bot' then return current end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('XADD', KEYS[2], '*', 'type', ARGV[1], 'id', ARGV[2], 'data', ARGV[3], 'ts', ARGV[4])
return 'ok'
"""


def _turn(by: str, text: str, timestamp: Any) -> Dict[str, Any]:
    """One context turn as docs/contracts.md defines it: {"by": "user"|"bot", "text", "timestamp"?}
    (handoff/transcript.py reads ``by``; the timestamp is Rasa's, unix seconds)."""
    turn: Dict[str, Any] = {"by": by, "text": text[:MAX_TURN_CHARS]}
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        turn["timestamp"] = timestamp
    return turn


def context(tracker: Tracker) -> Dict[str, Any]:
    """What the agent sees: the topic the customer was on, useful slots, the last turns."""
    session = session_events(tracker)
    turns: List[Dict[str, Any]] = []
    last_intent = ""
    for event in session:
        kind = event.get("event")
        if kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            if intent not in _NOT_A_TOPIC:
                last_intent = intent
            turns.append(_turn("user", event.get("text") or "", event.get("timestamp")))
        elif kind == "bot" and event.get("text"):
            turns.append(_turn("bot", event["text"], event.get("timestamp")))
    slots = {k: v for k, v in tracker.current_slot_values().items()
             if v not in (None, "", [], {}) and k not in _INTERNAL_SLOTS}
    return {"last_intent": last_intent, "slots": slots, "turns": turns[-MAX_TURNS:]}


async def request(redis: Any, wa_id: str, name: str, reason: str, ctx: Dict[str, Any],
                  event_id: str, now: Optional[float] = None) -> Optional[Owner]:
    """Queue the conversation for a human. Returns None when queued now, or the owner it
    already had (a human: nothing was changed). Raises on Redis failure."""
    now = time.time() if now is None else now
    data = {"wa_id": wa_id, "name": name, "reason": reason, "context": ctx}
    fields = Event(events.HANDOFF_REQUESTED, event_id, data, now).to_fields()
    owner = dict(Ownership(Owner.QUEUED).to_hash(), reason=reason, requested_at=f"{now:.3f}")
    args: List[str] = [fields["type"], fields["id"], fields["data"], fields["ts"]]
    for key, value in owner.items():
        args += [key, str(value)]
    result = await redis.eval(_REQUEST, 2, keys.ownership(wa_id), keys.EVENTS_STREAM, *args)
    result = result.decode() if isinstance(result, bytes) else result
    return None if result == "ok" else Owner.parse(result)

"""Events -> transcript lines (pure functions). Used by the transcript writer (MongoDB, in
batches) and by the live feed (the same line, pushed to the console at once)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Union

from connectors import events as ev
from connectors.events import Event
from handoff.models import StatusUpdate, TranscriptEntry

STATUS_TYPES = {ev.MESSAGE_SENT: "sent", ev.MESSAGE_DELIVERED: "delivered",
                ev.MESSAGE_READ: "read", ev.MESSAGE_FAILED: "failed"}
HANDOFF_TYPES = {ev.HANDOFF_REQUESTED, ev.HANDOFF_ASSIGNED, ev.HANDOFF_TRANSFERRED,
                 ev.HANDOFF_RESOLVED, ev.HANDOFF_TIMED_OUT}
MESSAGE_TYPES = {ev.MESSAGE_RECEIVED, ev.MESSAGE_OUTBOUND, ev.MESSAGE_ECHO, *STATUS_TYPES}


def _at(value: Union[str, float, int, None], fallback: float) -> datetime:
    try:
        stamp = float(value) if value not in (None, "") else fallback  # type: ignore[arg-type]
    except (TypeError, ValueError):
        stamp = fallback
    return datetime.fromtimestamp(stamp, timezone.utc)


def describe(payload: Mapping[str, Any]) -> str:
    """A human-readable line for an outbound (or echoed) message body."""
    kind = payload.get("type", "")
    content = payload.get(kind) if isinstance(payload.get(kind), Mapping) else {}
    if kind == "text":
        return str(content.get("body", ""))
    if kind == "template":
        params = [str(p.get("text", p.get("parameter_name", "")))
                  for c in content.get("components", []) for p in c.get("parameters", [])
                  if isinstance(p, Mapping)]
        return f"[template {content.get('name', '')}]" + (f" {', '.join(params)}" if params else "")
    if kind == "interactive":
        body = content.get("body") or {}
        return str(body.get("text", "")) if isinstance(body, Mapping) else ""
    caption = content.get("caption") if isinstance(content, Mapping) else ""
    return f"[{kind}]" + (f" {caption}" if caption else "")


def _received_text(data: Mapping[str, Any]) -> str:
    for key in ("text", "title", "payload"):
        if data.get(key):
            return str(data[key])
    return f"[{data.get('type', 'message')}]"


def _handoff_note(event: Event) -> str:
    d = event.data
    if event.type == ev.HANDOFF_REQUESTED:
        return f"Handoff requested ({d.get('reason', '')})"
    if event.type == ev.HANDOFF_ASSIGNED:
        return f"Assigned to {d.get('agent', '')}"
    if event.type == ev.HANDOFF_TRANSFERRED:
        target = d.get("agent") or "the queue"
        return f"Transferred from {d.get('from_agent', '')} to {target}"
    if event.type == ev.HANDOFF_RESOLVED:
        return f"Resolved by {d.get('agent') or d.get('by', '')}; handed back to the bot"
    return "Nobody answered in time; the customer was offered a follow-up"


def context_turns(event: Event) -> List[TranscriptEntry]:
    """The bot's recent turns, carried by handoff.requested, as lines before the request."""
    turns = (event.data.get("context") or {}).get("turns") or []
    wa_id = str(event.data.get("wa_id", ""))
    out: List[TranscriptEntry] = []
    for i, turn in enumerate(turns):
        if isinstance(turn, Mapping):
            who = str(turn.get("by") or turn.get("sender") or turn.get("event") or "bot")
            text = str(turn.get("text") or "")
        else:
            who, text = "bot", str(turn)
        customer = who in ("user", "customer")
        at = _at(turn.get("timestamp") if isinstance(turn, Mapping) else None, event.ts)
        if not isinstance(turn, Mapping) or not turn.get("timestamp"):
            at -= timedelta(milliseconds=len(turns) - i)
        out.append(TranscriptEntry(f"{event.id}:turn:{i}", wa_id, at, "in" if customer else "out",
                                   "customer" if customer else "bot", text=text,
                                   seq=event.ts - (len(turns) - i) / 1000))
    return out


def entry_for(event: Event) -> Optional[TranscriptEntry]:
    """The transcript line of a message or handoff event (None for statuses and others)."""
    d = event.data
    wa_id = str(d.get("wa_id") or "")
    if event.type == ev.MESSAGE_RECEIVED:
        return TranscriptEntry(str(d.get("wamid") or event.id), wa_id, _at(d.get("timestamp"), event.ts),
                               "in", "customer", kind=str(d.get("type", "text")),
                               text=_received_text(d), seq=event.ts)
    if event.type == ev.MESSAGE_OUTBOUND:
        payload = d.get("payload") or {}
        return TranscriptEntry(str(d.get("wamid") or event.id), wa_id, _at(None, event.ts), "out",
                               str(d.get("by", "bot")), kind=str(payload.get("type", "")),
                               text=describe(payload), seq=event.ts)
    if event.type == ev.MESSAGE_ECHO:
        payload = d.get("payload") or {}
        return TranscriptEntry(str(d.get("wamid") or event.id), wa_id, _at(d.get("timestamp"), event.ts),
                               "out", "human_app", kind=str(d.get("type", "")),
                               text=describe(payload), seq=event.ts)
    if event.type == ev.MESSAGE_FAILED and not d.get("wamid"):
        # Refused before reaching Meta: no wamid, so the failure is its own line.
        payload = d.get("payload") or {}
        return TranscriptEntry(event.id, wa_id, _at(d.get("timestamp"), event.ts), "out",
                               str(d.get("by", "")), kind=str(payload.get("type", "")),
                               text=describe(payload), status="failed",
                               errors=list(d.get("errors") or []), seq=event.ts)
    if event.type in HANDOFF_TYPES:
        return TranscriptEntry(event.id, wa_id, _at(None, event.ts), "system", "system",
                               kind="note", text=_handoff_note(event), seq=event.ts)
    return None


def status_for(event: Event) -> Optional[StatusUpdate]:
    d = event.data
    status = STATUS_TYPES.get(event.type)
    if status is None or not d.get("wamid"):
        return None
    return StatusUpdate(str(d["wamid"]), str(d.get("wa_id", "")), status,
                        _at(d.get("timestamp"), event.ts), list(d.get("errors") or []))


def live_message(event: Event) -> Dict[str, Any]:
    """The live-feed form of a message event: a line, or a status change."""
    entry = entry_for(event)
    if entry is not None:
        return {"kind": "line", "wa_id": entry.wa_id, "line": entry.to_json()}
    update = status_for(event)
    assert update is not None
    return {"kind": "status", "wa_id": update.wa_id, "wamid": update.wamid,
            "status": update.status, "errors": update.errors}

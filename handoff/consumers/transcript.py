"""The transcript writer: message and handoff events of tracked customers -> MongoDB, in
batches, acknowledged only after the write (a MongoDB outage delays lines, loses none).

A customer is tracked from their first handoff.requested on (for `TRACK_DAYS`). Every
customer message also counts towards the day's conversations (bot deflection rate).
"""
from __future__ import annotations

from typing import Any, List, Set

from connectors import events as ev
from handoff import keys
from handoff.consumers.group import Entry
from handoff.models import StatusUpdate, TranscriptEntry
from handoff.store.base import TranscriptStore
from handoff.transcript import HANDOFF_TYPES, MESSAGE_TYPES, context_turns, entry_for, status_for

TRACK_DAYS = 30


class TranscriptWriter:
    def __init__(self, redis: Any, transcript: TranscriptStore) -> None:
        self._redis = redis
        self._transcript = transcript

    async def __call__(self, batch: List[Entry]) -> None:
        relevant = [e.event for e in batch if e.event.type in MESSAGE_TYPES | HANDOFF_TYPES]
        if not relevant:
            return
        requested = {str(e.data.get("wa_id")) for e in relevant if e.type == ev.HANDOFF_REQUESTED}
        candidates = sorted({str(e.data.get("wa_id") or "") for e in relevant} - requested - {""})
        async with self._redis.pipeline(transaction=False) as pipe:
            for wa_id in requested:
                pipe.set(keys.tracked(wa_id), 1, ex=TRACK_DAYS * 86400)
            for event in relevant:
                line = entry_for(event) if event.type == ev.MESSAGE_RECEIVED else None
                if line is not None and line.wa_id:
                    pipe.pfadd(keys.conversations(line.at.strftime("%Y-%m-%d")), line.wa_id)
            for wa_id in candidates:
                pipe.exists(keys.tracked(wa_id))
            results = await pipe.execute()
        flags = results[len(results) - len(candidates):] if candidates else []
        tracked: Set[str] = requested | {w for w, f in zip(candidates, flags) if f}
        entries: List[TranscriptEntry] = []
        statuses: List[StatusUpdate] = []
        for event in relevant:
            if str(event.data.get("wa_id") or "") not in tracked:
                continue
            if event.type == ev.HANDOFF_REQUESTED:
                entries.extend(context_turns(event))
            line = entry_for(event)
            if line is not None:
                entries.append(line)
            update = status_for(event)
            if update is not None:
                statuses.append(update)
        await self._transcript.write(entries, statuses)

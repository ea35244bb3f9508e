"""The live-feed copier: customer messages from the handoff inbox, and outbound messages and
delivery statuses of tracked customers from the events stream, copied into
`handoff.keys.LIVE_STREAM`, whose ids the console uses to replay after a reconnect."""
from __future__ import annotations

import logging
from typing import Any, List

from connectors import events as ev
from connectors import keys as shared_keys
from connectors.events import Event
from handoff import keys
from handoff.consumers.group import Entry
from handoff.transcript import MESSAGE_TYPES, live_message
from observability import trace

log = logging.getLogger(__name__)

# Customer messages of human-owned chats come from the inbox; on the events stream they would
# arrive twice.
_FROM_EVENTS = MESSAGE_TYPES - {ev.MESSAGE_RECEIVED}


class LiveCopier:
    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def __call__(self, batch: List[Entry]) -> None:
        inbox = [e.event for e in batch if e.stream == shared_keys.HANDOFF_INBOX_STREAM
                 and e.event.type == ev.MESSAGE_RECEIVED]
        for event in inbox:  # handoff's line of the message's trace
            with trace.bound(event.trace):
                log.info("inbox %s from %s -> agents", event.data.get("type"), event.data.get("wa_id"))
        outbound = [e.event for e in batch if e.stream == shared_keys.EVENTS_STREAM
                    and e.event.type in _FROM_EVENTS and e.event.data.get("wa_id")]
        if outbound:
            async with self._redis.pipeline(transaction=False) as pipe:
                for event in outbound:
                    pipe.exists(keys.tracked(str(event.data["wa_id"])))
                flags = await pipe.execute()
            outbound = [e for e, tracked in zip(outbound, flags) if tracked]
        chosen = inbox + outbound
        if not chosen:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in chosen:
                line = Event("message", event.id, {**live_message(event), "source": event.type},
                             ts=event.ts)
                pipe.xadd(keys.LIVE_STREAM, line.to_fields(), maxlen=keys.LIVE_MAXLEN,
                          approximate=True)
            await pipe.execute()

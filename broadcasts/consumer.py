"""The broadcasts consumer group on the internal events stream.

``contact.opted_in/out`` -> consent ledger; ``message.received`` -> contact activity, STOP
keywords (opt-out, source ``stop_keyword``; broadcasts owns STOP detection, the bot may also
emit its own ``contact.opted_out``: the ledger takes both), campaign reply follow-ups;
``message.sent/delivered/read/failed`` -> delivery tracker (and 131050 -> opt-out);
``template.status_updated`` -> template library (PAUSED/DISABLED pause campaigns).
An entry is acknowledged after its effects are written; a failing entry is retried three
times, then parked in ``dead_events`` and acknowledged. The tracker's and the replies' counts
are group commits owned by this consumer (its name plus this run, kept alive by a heartbeat
key): if it dies mid roll-up or mid reply, maintenance adds them (campaigns.commit).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from redis.exceptions import ResponseError

from connectors import events, keys as shared_keys
from connectors.events import Event

from . import keys
from .campaigns.commit import heartbeat
from .consent import Action, Source

log = logging.getLogger(__name__)
#: Events delivered to a consumer and not acknowledged for this long are another's to handle
#: (``EventConsumer.reclaim_once``), looked for every RECLAIM_EVERY_S.
RECLAIM_IDLE_MS, RECLAIM_EVERY_S = 30_000, 5.0
#: A store outage makes every read fail to finish the interrupted roll-ups: one warning per this.
SETTLE_WARNING_EVERY_S = 30.0
STOP_WORDS = {"stop", "unsubscribe", "stop promotions", "opt out", "optout", "cancel subscription"}
STATUS_TYPES = {events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ, events.MESSAGE_FAILED}
#: Every type ``handle`` acts on; the others (e.g. ``message.outbound``, one per send) are only acknowledged.
HANDLED = {events.CONTACT_OPTED_OUT, events.CONTACT_OPTED_IN, events.MESSAGE_RECEIVED, events.TEMPLATE_STATUS_UPDATED,
           *STATUS_TYPES}


def _parsed(fields: Dict[str, Any]) -> Optional[Event]:
    try:
        return Event.from_fields(fields) if fields else None
    except (KeyError, ValueError, TypeError):
        return None


def is_stop(data: Dict[str, Any]) -> bool:
    said = [str(data.get(k) or "").strip().lower().rstrip(".!") for k in ("text", "payload", "title")]
    return any(s in STOP_WORDS for s in said if s)


class EventConsumer:
    def __init__(self, ctx: Any, name: str) -> None:
        self.ctx, self.name = ctx, name
        #: Owner of this run's group commits (status roll-ups, replies), set by each ``run``: a run
        #: restarted (by the supervisor, or a new process under the same name) must neither keep a
        #: stopped run's open commits alive nor finish them after maintenance did.
        self.owner = self._new_owner()
        self._settle_warned_at = float("-inf")

    def _new_owner(self) -> str:
        return f"{self.name}-events/{uuid.uuid4().hex[:8]}"

    async def ensure_group(self) -> None:
        try:
            await self.ctx.redis.xgroup_create(shared_keys.EVENTS_STREAM, keys.EVENTS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        await self.ensure_group()
        self.owner = self._new_owner()
        alive = asyncio.create_task(heartbeat(self.ctx.redis, self.owner, stop))
        cursor = "0"  # first our own unacknowledged entries (after a crash), then new ones
        next_reclaim = 0.0
        try:
            while not stop.is_set():
                if cursor == ">" and time.monotonic() >= next_reclaim:
                    next_reclaim = time.monotonic() + RECLAIM_EVERY_S
                    await self.reclaim_once()
                got = await self.ctx.redis.xreadgroup(keys.EVENTS_GROUP, self.name,
                                                      {shared_keys.EVENTS_STREAM: cursor},
                                                      count=200, block=200 if cursor == ">" else None)
                items = got[0][1] if got else []
                if cursor == "0" and not items:
                    cursor = ">"
                    continue
                await self.process(items)
        finally:
            self.ctx.tracker.abandon()  # before the key goes: maintenance finishes them from here on
            alive.cancel()
            await asyncio.gather(alive, return_exceptions=True)
            await self.ctx.redis.delete(keys.worker_alive(self.owner))

    async def reclaim_once(self, min_idle_ms: int = RECLAIM_IDLE_MS) -> int:
        """Take over and handle the events another consumer was given and never acknowledged (a
        process that died: with the default name ``broadcasts-<pid>`` nobody else would ever read
        them, an opt-out or a status lost). Handling an event twice is safe (every effect is
        conditional or keyed), so ``min_idle_ms`` only needs to exceed a live batch's handling."""
        total, start = 0, "0-0"
        for _ in range(100):  # bounded walk over the group's pending list
            answer = await self.ctx.redis.xautoclaim(shared_keys.EVENTS_STREAM, keys.EVENTS_GROUP, self.name,
                                                     min_idle_ms, start_id=start, count=200)
            start, claimed = _text(answer[0]), [(i, f) for i, f in answer[1] if f]
            if claimed:
                log.info("taking over %d unacknowledged events of a stopped consumer", len(claimed))
                await self.process(claimed)
            total += len(claimed)
            if start == "0-0":
                break
        return total

    async def process(self, items: List[Any]) -> None:
        """Handle entries in stream order, then acknowledge them all in one call.

        Consecutive campaign statuses (the bulk of the traffic during a campaign) are applied
        together by ``Tracker.on_statuses``; if that fails they are retried one by one. A roll-up
        a store error interrupted is finished first (``Tracker.settle``), even with no entries."""
        try:
            await self.ctx.tracker.settle()
        except Exception as exc:  # noqa: BLE001 - the store still away: tried again with the next entries
            now = time.monotonic()
            if now - self._settle_warned_at >= SETTLE_WARNING_EVERY_S:  # reads come every 200 ms
                self._settle_warned_at = now
                log.warning("finishing an interrupted status roll-up failed (%r); retrying with each read", exc)
        run: List[Tuple[str, Event]] = []
        for entry_id, fields in items:
            event = _parsed(fields)
            if event is not None and self.ctx.tracker.batchable(event.type, event.data):
                run.append((entry_id, event))
                continue
            if event is not None and event.type not in HANDLED:
                continue  # nothing to do; must not split a run (every send's message.outbound would)
            await self._statuses(run)
            run = []
            if fields:
                await self._one(entry_id, fields)  # a malformed entry fails there and is parked
        await self._statuses(run)
        if items:
            await self.ctx.redis.xack(shared_keys.EVENTS_STREAM, keys.EVENTS_GROUP, *[entry_id for entry_id, _ in items])

    async def _statuses(self, run: List[Tuple[str, Event]]) -> None:
        if not run:
            return
        try:
            await self.ctx.tracker.on_statuses([(event.type, event.data) for _, event in run], self.owner)
        except Exception:  # noqa: BLE001 - every status is safe to apply again: fall back to one by one
            log.exception("applying %d statuses together failed; applying them one by one", len(run))
            for entry_id, event in run:
                await self._one(entry_id, event.to_fields())

    async def _one(self, entry_id: str, fields: Dict[str, Any]) -> None:
        for attempt in range(3):
            try:
                await self.handle(Event.from_fields(fields))
                return
            except Exception:  # noqa: BLE001 - park it rather than block the stream forever
                log.exception("event %s failed (attempt %d)", entry_id, attempt + 1)
                await asyncio.sleep(0.1 * (attempt + 1))
        await self.ctx.db["dead_events"].insert_one({"entry_id": entry_id, "fields": dict(fields),
                                                     "at": datetime.now(timezone.utc)})

    async def handle(self, event: Event) -> None:
        data, ctx = event.data, self.ctx
        at = datetime.fromtimestamp(event.ts, timezone.utc) if event.ts else None
        if event.type in (events.CONTACT_OPTED_OUT, events.CONTACT_OPTED_IN):
            action = Action.OPT_OUT if event.type == events.CONTACT_OPTED_OUT else Action.OPT_IN
            await ctx.ledger.record(data["wa_id"], data.get("category") or "marketing", action,
                                    Source.parse(data.get("source")), at, ref=event.id)
        elif event.type == events.MESSAGE_RECEIVED and data.get("wa_id"):
            await ctx.contacts.touch_inbound(data["wa_id"], at or datetime.now(timezone.utc), data.get("name") or "")
            if is_stop(data):
                await self._stop(data, at)
            await ctx.followups.on_reply(data, self.owner)
        elif event.type in STATUS_TYPES:
            await ctx.tracker.on_status(event.type, data, self.owner)
            codes = [e.get("code") for e in data.get("errors") or []]
            if event.type == events.MESSAGE_FAILED and 131050 in codes and data.get("wa_id"):
                await ctx.ledger.record(data["wa_id"], "marketing", Action.OPT_OUT, Source.FAILURE_131050, at,
                                        ref=data.get("wamid") or event.id)
        elif event.type == events.TEMPLATE_STATUS_UPDATED:
            await ctx.templates.set_status(str(data.get("template_id") or ""), str(data.get("status") or ""),
                                           data.get("reason"), data.get("template_name", ""), data.get("language", ""))

    async def _stop(self, data: Dict[str, Any], at: Any) -> None:
        wa_id, wamid = data["wa_id"], data.get("wamid") or ""
        before = await self.ctx.ledger.current(wa_id, "marketing")
        consent = await self.ctx.ledger.record(wa_id, "marketing", Action.OPT_OUT, Source.STOP_KEYWORD, at, ref=f"stop:{wamid}")
        if before != consent:
            event = Event(events.CONTACT_OPTED_OUT, f"stop:{wamid}",
                          {"wa_id": wa_id, "source": "stop_keyword", "category": "marketing"})
            await self.ctx.redis.xadd(shared_keys.EVENTS_STREAM, event.to_fields())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

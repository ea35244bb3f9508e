"""Fan-out of the live feed to connected consoles, with replay after a reconnect.

One reader task per process follows `keys.LIVE_STREAM` and offers every entry to each
subscriber, filtered by `access.live_view`. A console that reconnects sends the last stream id
it saw; `replay` returns what it missed (XRANGE), and the subscription, opened before the
replay, skips what the replay already sent: nothing lost, nothing twice.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

from connectors import keys as shared_keys
from connectors.events import Event
from connectors.ownership import Ownership
from handoff import keys
from handoff.access import Caller, live_view

log = logging.getLogger(__name__)
Frame = Dict[str, Any]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def stream_id_key(stream_id: str) -> Tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms or 0), int(seq or 0)


@dataclass(eq=False)  # hashed by identity: one per socket
class Subscription:
    caller: Caller
    queue: "asyncio.Queue[Frame]"
    overflowed: bool = False


class LiveHub:
    def __init__(self, redis: Any, queue_size: int = 2000, block_ms: int = 1000) -> None:
        self._redis = redis
        self._subs: Set[Subscription] = set()
        self._queue_size = queue_size
        self._block_ms = block_ms
        self._running = True

    def stop(self) -> None:
        self._running = False

    def subscribe(self, caller: Caller) -> Subscription:
        sub = Subscription(caller, asyncio.Queue(self._queue_size))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def head(self) -> str:
        """The id of the newest entry ("0-0" when empty)."""
        last = await self._redis.xrevrange(keys.LIVE_STREAM, count=1)
        return _text(last[0][0]) if last else "0-0"

    async def replay(self, caller: Caller, after: str, limit: int = 5000) -> Optional[List[Frame]]:
        """Entries after `after` that `caller` may see; None if some were trimmed already
        (the console must then reload its state)."""
        first = await self._redis.xrange(keys.LIVE_STREAM, count=1)
        if first and stream_id_key(_text(first[0][0])) > stream_id_key(after) and \
                await self._redis.xlen(keys.LIVE_STREAM) >= keys.LIVE_MAXLEN:
            return None
        raw = await self._redis.xrange(keys.LIVE_STREAM, min=f"({after}", count=limit)
        frames = await self._frames(raw)
        return [f for f in (self._view(caller, f) for f in frames) if f is not None]

    async def run(self) -> None:
        """Follow the live stream until stopped (or cancelled)."""
        position = await self.head()
        while self._running:
            try:
                reply = await self._redis.xread({keys.LIVE_STREAM: position}, count=500,
                                                block=self._block_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live feed read failed")
                await asyncio.sleep(1.0)
                continue
            for _, items in reply or []:
                if not items:
                    continue
                position = _text(items[-1][0])
                for frame in await self._frames(items):
                    self._offer(frame)

    def _offer(self, frame: Frame) -> None:
        for sub in list(self._subs):
            view = self._view(sub.caller, frame)
            if view is None:
                continue
            try:
                sub.queue.put_nowait(view)
            except asyncio.QueueFull:
                sub.overflowed = True  # the socket closes; the console reconnects and replays

    @staticmethod
    def _view(caller: Caller, frame: Frame) -> Optional[Frame]:
        data = live_view(caller, frame["type"], frame["data"], frame["_status"], frame["_agent"])
        return None if data is None else {"id": frame["id"], "type": frame["type"], "data": data}

    async def _frames(self, items: List[Any]) -> List[Frame]:
        """Parse entries and attach the status/agent that decide who may see them."""
        events = [(_text(i), Event.from_fields(f)) for i, f in items]
        wa_ids = [e.data.get("wa_id", "") for _, e in events if e.type != "ticket"]
        owners: Dict[str, Ownership] = {}
        if wa_ids:
            async with self._redis.pipeline(transaction=False) as pipe:
                for wa_id in wa_ids:
                    pipe.hgetall(shared_keys.ownership(str(wa_id)))
                for wa_id, fields in zip(wa_ids, await pipe.execute()):
                    owners[wa_id] = Ownership.from_hash(fields)
        frames: List[Frame] = []
        for stream_id, event in events:
            if event.type == "ticket":
                status, agent = event.data.get("status", ""), event.data.get("agent", "")
            else:
                owner = owners[event.data.get("wa_id", "")]
                status, agent = owner.owner.value, owner.agent
            frames.append({"id": stream_id, "type": event.type, "data": event.data,
                           "_status": status, "_agent": agent})
        return frames

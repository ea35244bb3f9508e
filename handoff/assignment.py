"""Auto-assignment: queued tickets go, oldest first, to online agents under their capacity
(max concurrent chats, per agent), by round robin or to the least loaded; when everyone is
full (or offline) the tickets wait in the FIFO queue and their customers are told their place
and expected wait (handoff.waiting).

Every assignment is the `assign` row of the transition table (`HandoffService.assign`), the
same atomic check-and-set a manual claim uses: an agent who claims the ticket first simply
wins, and the assigner moves on. One replica at a time sweeps (a Redis lease); a sweep runs
when a ticket changes (the console's live feed) and every `interval_s`, which also notices
agents coming online.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from handoff import keys
from handoff.errors import ConflictError
from handoff.models import HANDOFF_ROLES, Agent, Ticket
from handoff.presence import Presence
from handoff.service import HandoffService
from handoff.states import Status
from handoff.store.base import AgentStore
from handoff.waiting import QueueNotices

log = logging.getLogger(__name__)
BY = "system:auto-assign"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Strategy(str, enum.Enum):
    OFF = "off"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


def pick(strategy: Strategy, agents: Sequence[Agent], online: Set[str],
         loads: Mapping[str, int], cursor: str) -> Optional[str]:
    """The agent who gets the next chat, or None when every online agent is full.

    Candidates are online, active agents below their capacity, in id order rotated to start
    after `cursor` (the last one served). Round robin takes the first of them; least loaded the
    one with the fewest open chats (ties: the rotation order)."""
    eligible = sorted((a for a in agents if a.active and a.id in online
                       and loads.get(a.id, 0) < a.capacity), key=lambda a: a.id)
    if strategy is Strategy.OFF or not eligible:
        return None
    rotation = [a for a in eligible if a.id > cursor] + [a for a in eligible if a.id <= cursor]
    if strategy is Strategy.LEAST_LOADED:
        return min(rotation, key=lambda a: loads.get(a.id, 0)).id
    return rotation[0].id


@dataclass
class Sweep:
    assigned: List[Tuple[str, str]] = field(default_factory=list)  # (ticket id, agent)
    waiting: List[str] = field(default_factory=list)               # ticket ids, queue order
    told: int = 0
    skipped: bool = False                                          # another replica holds the lease


class Assigner:
    def __init__(self, service: HandoffService, agents: AgentStore, presence: Presence,
                 redis: Any, strategy: Strategy, notices: Optional[QueueNotices] = None, *,
                 name: str = "handoff", interval_s: float = 2.0, lease_ms: int = 15_000,
                 max_queue: int = 500) -> None:
        self._service = service
        self._agents = agents
        self._presence = presence
        self._redis = redis
        self.strategy = strategy
        self._notices = notices
        self._name = name
        self._interval_s = interval_s
        self._lease_ms = lease_ms
        self._max_queue = max_queue
        self._release = redis.register_script(_RELEASE)
        self._running = True

    def stop(self) -> None:
        self._running = False

    async def sweep(self) -> Sweep:
        """Assign what can be assigned, tell the rest of the queue their place."""
        if not await self._redis.set(keys.AUTO_ASSIGN_LOCK, self._name, nx=True,
                                     px=self._lease_ms):
            return Sweep(skipped=True)
        try:
            return await self._sweep()
        finally:
            await self._release(keys=[keys.AUTO_ASSIGN_LOCK], args=[self._name])

    async def _sweep(self) -> Sweep:
        result = Sweep()
        queue = await self._service.tickets.list((Status.QUEUED,), limit=self._max_queue)
        if not queue:
            return result
        agents = [a for a in await self._agents.list()
                  if a.active and a.capacity > 0 and a.role in HANDOFF_ROLES]
        online = await self._presence.online(a.id for a in agents)
        waiting = await self._assign(queue, agents, online, result) \
            if self.strategy is not Strategy.OFF and online else queue
        result.waiting = [t.id for t in waiting]
        if self._notices is not None:
            capacity = sum(a.capacity for a in agents if a.id in online) or \
                sum(a.capacity for a in agents)
            result.told = await self._notices.tell(waiting, capacity)
        return result

    async def _assign(self, queue: List[Ticket], agents: List[Agent], online: Set[str],
                      result: Sweep) -> List[Ticket]:
        loads: Dict[str, int] = dict(await self._service.tickets.open_counts())
        raw = await self._redis.get(keys.ASSIGN_CURSOR)
        cursor = raw.decode() if isinstance(raw, bytes) else (raw or "")
        waiting: List[Ticket] = []
        for index, ticket in enumerate(queue):
            agent = pick(self.strategy, agents, online, loads, cursor)
            if agent is None:  # everyone is full: the rest waits, in order
                waiting.extend(queue[index:])
                break
            try:
                await self._service.assign(ticket.id, agent, by=BY)
            except ConflictError:
                continue  # claimed (or resolved) meanwhile: no longer in the queue
            loads[agent] = loads.get(agent, 0) + 1
            cursor = agent
            result.assigned.append((ticket.id, agent))
        if result.assigned:
            await self._redis.set(keys.ASSIGN_CURSOR, cursor)
        return waiting

    async def run(self) -> None:
        """Sweep on every ticket change and at least every `interval_s`, until stopped."""
        last = await self._redis.xrevrange(keys.LIVE_STREAM, count=1)
        position = _text(last[0][0]) if last else "0-0"
        changed, swept_at = True, 0.0
        while self._running:
            try:
                loop = asyncio.get_running_loop()
                if changed or loop.time() - swept_at >= self._interval_s:
                    swept_at = loop.time()
                    await self.sweep()
                reply = await self._redis.xread({keys.LIVE_STREAM: position}, count=1000,
                                                block=int(self._interval_s * 1000))
                changed = False
                for _, items in reply or []:
                    position = _text(items[-1][0])
                    changed = changed or any(_text(f.get(b"type", b"")) == "ticket"
                                             for _, f in items)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auto-assignment sweep failed")
                changed = True
                await asyncio.sleep(1.0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

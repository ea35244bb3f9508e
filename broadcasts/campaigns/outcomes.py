"""Group commit of send outcomes: the results of many sends written in a few round trips.

A worker hands each finished send here (accepted with its wamid, failed, skipped, released by
a pause, or nothing to do) together with the queue entry it came from. One flusher takes
everything queued and writes it in order:

1. the releases (back to pending) in one bulk write, queued again if the campaign runs by then;
2. per campaign with sends to count, the flush registers itself on the campaign document
   (``pending_flushes``: an id of its own there, its worker, the time);
3. per campaign, the acceptances (each reaching funnel level ``sent``), the failures and the
   skips, each kind in one bulk write whose ``modified_count`` is exactly the number to add to
   the counters (every op is conditional on the record, so a repeat modifies nothing and counts
   nothing); each op also stamps its record with the flush id and the counter (``flush``,
   ``counted``: ``RecipientStore.flush_counts``);
4. per campaign, one update that adds the counts and removes the registration, conditional on
   the registration: it happens once, whoever makes it (``CampaignStore.close_flush``);
5. one XACK per queue stream.

A kill at any point loses no count and counts nothing twice. A queue entry is acknowledged only
after its record is written: a crash in between leaves the entry to be reclaimed, and the
record's state decides what happens (nothing is sent twice for it). A flush whose worker dies
between steps 2 and 4 stays registered; maintenance (``recover_flushes``, from
``CampaignService.reclaim_leases``) takes it over once it is older than the send lease and its
worker's heartbeat key is gone, counts its records by their stamp and makes step 4 itself. A
live worker's flush is left to it, however long the store keeps it waiting (it may still be
writing records), and a campaign completes only when no flush is registered on it.

A failed flush (MongoDB or Redis down) keeps its batch and retries it from the step that
failed; a bulk write that failed may have been applied in part, its modified count lost, so a
retried flush takes its counts from the stamps instead.

Writes per sent message: two single-document writes (its claim, its outcome), batched. Per
flush and campaign: the registration (step 2) besides the one counter update (step 4).
"""
from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from pymongo import UpdateOne

from .. import keys
from .recipients import RecipientStore, parse_id, utcnow
from .state import RecipientState as R

log = logging.getLogger(__name__)


class Kind(str, enum.Enum):
    ACCEPTED = "accepted"  # the Graph API took it: record -> accepted, funnel level ``sent``
    FAILED = "failed"
    SKIPPED = "skipped"  # refused before sending (consent)
    RELEASED = "released"  # claimed, then the campaign stopped before the send left: back to pending
    DONE = "done"  # nothing to write (not ours, campaign not running): acknowledge the entry only


@dataclass
class Outcome:
    kind: Kind
    campaign_id: str
    rid: str
    entry: Optional[Tuple[str, str]]  # (priority, queue entry id)
    wamid: str = ""
    error: Mapping[str, Any] = field(default_factory=dict)
    transient: bool = False
    at: datetime = field(default_factory=utcnow)


@dataclass
class _Batch:
    """One flush's work; remembers each step done so a retry neither re-counts nor re-adds."""
    outcomes: List[Outcome]
    at: datetime = field(default_factory=utcnow)
    attempts: int = 0
    released: bool = False
    requeued: bool = False
    ids: Dict[str, str] = field(default_factory=dict)  # campaign -> this flush's id on it
    opened: Set[str] = field(default_factory=set)  # campaigns the flush is registered on
    counted: Dict[Tuple[str, str], int] = field(default_factory=dict)  # (campaign, counter) -> modified
    closed: Set[str] = field(default_factory=set)  # campaigns whose counts were added

    def flush_id(self, campaign_id: str) -> str:
        """One id per campaign, so its records are found by ``flush`` alone (one index)."""
        return self.ids.setdefault(campaign_id, uuid.uuid4().hex)


class OutcomeWriter:
    def __init__(self, recipients: RecipientStore, campaigns: Any, queue: Any, max_batch: int = 1000,
                 owner: str = "") -> None:
        """``owner``: the worker's claimant name, whose heartbeat key keeps its open flushes its own
        (without one, a flush left open is taken over once older than the lease)."""
        self.recipients, self.campaigns, self.queue = recipients, campaigns, queue
        self.max_batch, self.owner = max_batch, owner
        self._queued: List[Outcome] = []
        self._wake = asyncio.Event()
        self._closing = False

    @property
    def backlog(self) -> int:
        return len(self._queued)

    def add(self, outcome: Outcome) -> None:
        self._queued.append(outcome)
        self._wake.set()

    async def run(self) -> None:
        """Flush until ``close`` and nothing is left; a failed flush is retried with backoff."""
        delay = 0.2
        while not (self._closing and not self._queued):
            await self._wake.wait()
            self._wake.clear()
            while self._queued:
                batch = _Batch(self._queued[:self.max_batch])
                del self._queued[:self.max_batch]
                while True:
                    try:
                        await self._flush(batch)
                        delay = 0.2
                        break
                    except Exception:  # noqa: BLE001 - a store outage: keep the batch, retry it
                        log.exception("writing %d send outcomes failed; retrying in %.1f s", len(batch.outcomes), delay)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 5.0)

    def close(self) -> None:
        self._closing = True
        self._wake.set()

    async def _flush(self, batch: _Batch) -> None:
        outcomes = batch.outcomes
        batch.attempts += 1
        if not batch.released:
            await self.recipients.write(self._release_ops(outcomes))
            batch.released = True
        if not batch.requeued:
            await self._requeue_released(outcomes)
            batch.requeued = True
        await self._count(batch)
        by_stream: Dict[str, List[str]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.entry is not None:
                by_stream[outcome.entry[0]].append(outcome.entry[1])
        for priority, entry_ids in by_stream.items():
            await self.queue.ack(priority, *entry_ids)

    async def _count(self, batch: _Batch) -> None:
        """Steps 2-4: register the flush, write the counted records, add their counts."""
        groups = self._counted_ops(batch.outcomes, batch.flush_id)
        for campaign_id in dict.fromkeys(campaign_id for campaign_id, _ in groups):
            if campaign_id not in batch.opened:
                await self.campaigns.open_flush(campaign_id, batch.flush_id(campaign_id), self.owner, batch.at)
                batch.opened.add(campaign_id)
        for group, ops in groups.items():
            if group not in batch.counted:
                batch.counted[group] = await self.recipients.write(ops)
        for campaign_id in sorted(batch.opened - batch.closed):
            flush = batch.flush_id(campaign_id)
            if batch.attempts > 1:  # a failed bulk write may have been applied in part: the stamps tell
                counts = await self.recipients.flush_counts(flush)
            else:
                counts = {counter: n for (c, counter), n in batch.counted.items() if c == campaign_id}
            await self.campaigns.close_flush(campaign_id, flush, counts, batch.at)
            batch.closed.add(campaign_id)

    async def _requeue_released(self, outcomes: List[Outcome]) -> None:
        """Queue the released records again if their campaign is running by now: a resume lists
        the pending records once, and one still ``sending`` then (its release waiting here) would
        stay pending with no queue entry, the campaign never completing. Read after the release
        is written: "paused" means the resume's listing is still to come and will include it."""
        released: Dict[Tuple[str, str], List[str]] = defaultdict(list)
        for o in outcomes:
            if o.kind is Kind.RELEASED and o.entry is not None:
                released[(o.campaign_id, o.entry[0])].append(parse_id(o.rid)[1])
        for (campaign_id, priority), wa_ids in released.items():
            if await self.campaigns.control(campaign_id) == "running":
                await self.queue.enqueue(campaign_id, wa_ids, priority)

    @staticmethod
    def _release_ops(outcomes: List[Outcome]) -> List[UpdateOne]:
        return [RecipientStore.release_op(o.rid) for o in outcomes if o.kind is Kind.RELEASED]

    @staticmethod
    def _counted_ops(outcomes: List[Outcome], flush_id: Callable[[str], str]) -> Dict[Tuple[str, str], List[UpdateOne]]:
        """Per (campaign, counter): the conditional updates whose modified count is the increment."""
        groups: Dict[Tuple[str, str], List[UpdateOne]] = defaultdict(list)
        for o in outcomes:
            if o.kind is Kind.ACCEPTED:
                groups[(o.campaign_id, "sent")].append(
                    RecipientStore.accept_op(o.rid, o.wamid, o.at, flush_id(o.campaign_id)))
            elif o.kind in (Kind.FAILED, Kind.SKIPPED):
                state = R.FAILED if o.kind is Kind.FAILED else R.SKIPPED
                groups[(o.campaign_id, state.value)].append(
                    RecipientStore.fail_op(o.rid, o.error, o.transient, state, o.at, flush_id(o.campaign_id)))
        return groups


async def recover_flushes(recipients: RecipientStore, campaigns: Any, lease_seconds: float) -> int:
    """Finish the flushes dead workers left open (step 4, counted from the stamps); returns how many.

    Only a flush registered more than ``lease_seconds`` ago whose worker's heartbeat key is gone:
    a live worker may still be writing its records, and closes its flush itself. Safe to repeat
    and to run on every replica at once (closing is conditional on the registration)."""
    closed = 0
    for campaign_id, flush in await campaigns.pending_flushes(utcnow() - timedelta(seconds=lease_seconds)):
        if await campaigns.redis.exists(keys.worker_alive(flush["owner"])):
            continue
        counts = await recipients.flush_counts(flush["id"])
        closed += await campaigns.close_flush(campaign_id, flush["id"], counts, flush["at"])
    return closed

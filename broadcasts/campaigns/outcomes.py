"""Group commit of send outcomes: the results of many sends written in a few round trips.

A worker hands each finished send here (accepted with its wamid, failed, skipped, released by
a pause, or nothing to do) together with the queue entry it came from. One flusher takes
everything queued and writes it in order:

1. the releases (back to pending) in one bulk write, queued again if the campaign runs by then;
2. the acceptances (each reaching funnel level ``sent``), the failures and the skips, counted as
   one group commit (campaigns.commit): per campaign, a registration in ``pending_flushes``, one
   bulk write per kind whose ``modified_count`` is exactly the number to add (every op is
   conditional on the record, so a repeat modifies nothing; each stamps its record), then one
   update that adds the counts and removes the registration;
3. one XACK per queue stream.

A kill at any point loses no count and counts nothing twice. A queue entry is acknowledged only
after its record is written: a crash in between leaves the entry to be reclaimed, and the
record's state decides what happens (nothing is sent twice for it). A flush whose worker dies
inside step 2 stays registered; maintenance (``commit.recover_flushes``, from
``CampaignService.reclaim_leases``) finishes it from the stamps once it is older than the send
lease and its worker's heartbeat key is gone. A live worker's flush is left to it, however long
the store keeps it waiting (it may still be writing records), and a campaign completes only when
no send flush is registered on it.

A failed flush (MongoDB or Redis down) keeps its batch and retries it from the step that
failed; a bulk write that failed may have been applied in part, its modified count lost, so a
retried flush takes its counts from the stamps instead.

Writes per sent message: two single-document writes (its claim, its outcome), batched. Per
flush and campaign: the registration besides the one counter update.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pymongo import UpdateOne

from .commit import Group, GroupCommit
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
    released: bool = False
    requeued: bool = False
    commit: Optional[GroupCommit] = None


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
        """Step 2: the counted records and their counts, as one group commit."""
        batch.commit = batch.commit or GroupCommit(self.owner)
        await batch.commit.run(self.recipients, self.campaigns, self._counted_ops(batch.outcomes, batch.commit))

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
    def _counted_ops(outcomes: List[Outcome], commit: GroupCommit) -> Dict[Group, List[UpdateOne]]:
        """Per (campaign, counter): the conditional updates whose modified count is the increment."""
        groups: Dict[Group, List[UpdateOne]] = defaultdict(list)
        for o in outcomes:
            flush = commit.flush_id(o.campaign_id)
            if o.kind is Kind.ACCEPTED:
                groups[(o.campaign_id, "sent", commit.at)].append(RecipientStore.accept_op(o.rid, o.wamid, o.at, flush))
            elif o.kind in (Kind.FAILED, Kind.SKIPPED):
                state = R.FAILED if o.kind is Kind.FAILED else R.SKIPPED
                groups[(o.campaign_id, state.value, commit.at)].append(
                    RecipientStore.fail_op(o.rid, o.error, o.transient, state, o.at, flush))
        return groups

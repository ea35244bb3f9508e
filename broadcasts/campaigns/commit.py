"""Kill-safe counters: record writes and the counts they add, as one group commit.

A campaign counter is the sum of conditional record writes, each modifying its record only when
it makes the change it counts (a repeat modifies nothing). Writing the records and then adding
to the counter loses the count if the process dies in between: the repeat counts nothing. So
every writer that counts counts through a ``GroupCommit``: the send outcome writer
(campaigns.outcomes), the delivery tracker (campaigns.tracker), replies and reminders
(campaigns.followups) and ``CampaignService.retry_failed``:

1. register on each campaign it counts for (``pending_flushes``: id, owner, kind, time;
   ``CampaignStore.open_flush``);
2. write the records in bulk writes grouped by (campaign, counter, timeline minute), each
   ``modified_count`` being the increment; every counted op pushes ``{flush, counted}`` onto
   its record's ``stamps`` (read back by ``RecipientStore.flush_counts``). A group's counter is
   a name (one per record) or a ``Delta``: several counters, each with its own per-record step
   (a retried failure: ``retried`` +1, ``failed`` -1, each funnel level it had reached -1),
   stamped ``{flush, counted, n}``;
3. per campaign, one update that adds the counts and pulls the registration, conditional on the
   registration: it happens once, whoever makes it (``CampaignStore.close_flush``).

``stamps`` is a list, never overwritten: one record can be counted by several commits (its
acceptance by a send flush, ``delivered`` and ``read`` by one status roll-up, ``failed`` by
another), each needing its own entries if its owner dies before step 3. One entry per counter a
write added, so a status that moves a record across several funnel levels leaves one per level.
The list is bounded: each counter is added to a record at most once per send attempt.

A commit whose owner dies between 1 and 3 stays registered; ``recover_flushes`` (maintenance)
counts its records by stamp and makes step 3, once the registration is older than the lease and
the owner's heartbeat key (``keys.worker_alive``, ``heartbeat``) is gone. A commit that failed
(store outage) is run again by its owner: done steps are skipped, and since a failed bulk write
may have been applied in part, a retried commit takes its counts from the stamps.

Owners. A long-running loop with a heartbeat (a send worker, the event consumer: the tracker and
replies) owns its commits for as long as it lives, so it must finish an interrupted one itself
(``Committer.settle``, before its next commit). A commit of a short-lived caller (an API request:
``retry_failed``) or of a periodic job (the scheduler's reminders) has an owner name no heartbeat
keeps: nobody would retry it while the process lives, so maintenance finishes it once it is older
than the lease. Those commits write one record (a reminder) or one batch of point writes (a
retry) between registering and closing, well within the lease (BROADCASTS_SEND_LEASE_S).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Mapping, Set, Tuple, Union

from pymongo import UpdateOne

from .. import keys
from .recipients import Delta, RecipientStore, utcnow

log = logging.getLogger(__name__)
#: Registration kinds: a campaign completes only with no ``SEND`` commit open (its sent, failed
#: and skipped counts are in); statuses, replies and reminders keep arriving after completion, so
#: ``STATUS`` ones (status roll-ups, replies, reminders) do not hold it.
SEND, STATUS = "send", "status"
#: Seconds an owner's "alive" key lives without being refreshed (refreshed 4 times as often).
HEARTBEAT_TTL = 20
#: (campaign, counter or delta, time whose timeline minute gets the count)
Group = Tuple[str, Union[str, Delta], datetime]


def steps(counted: Union[str, Delta]) -> Delta:
    """The (counter, n) pairs one counted record adds: a counter name adds 1 to it."""
    return ((counted, 1),) if isinstance(counted, str) else counted


@dataclass
class GroupCommit:
    """One commit's progress; remembers each step done so a retry neither re-counts nor re-adds."""
    owner: str
    kind: str = SEND
    at: datetime = field(default_factory=utcnow)
    attempts: int = 0
    ids: Dict[str, str] = field(default_factory=dict)  # campaign -> this commit's id on it
    opened: Set[str] = field(default_factory=set)
    counted: Dict[Group, int] = field(default_factory=dict)  # group -> records its bulk write modified
    closed: Set[str] = field(default_factory=set)

    def flush_id(self, campaign_id: str) -> str:
        """One id per campaign, so its records are found by the id alone (one index)."""
        return self.ids.setdefault(campaign_id, uuid.uuid4().hex)

    async def run(self, recipients: RecipientStore, campaigns: Any, groups: Mapping[Group, List[UpdateOne]]) -> int:
        """Steps 1-3 for ``groups`` (ops built with ``flush_id``); returns the records counted."""
        self.attempts += 1
        if self.attempts > 1:  # recovery may have closed it meanwhile (its owner's heartbeat lapsed)
            for campaign_id in sorted(self.opened - self.closed):
                if not await campaigns.flush_open(campaign_id, self.flush_id(campaign_id)):
                    # What it wrote is counted; records written under it now would never be.
                    # The entries behind them are not acknowledged: they come again, in a new commit.
                    self.closed.add(campaign_id)
        for campaign_id in dict.fromkeys(group[0] for group in groups):
            if campaign_id not in self.opened:
                await campaigns.open_flush(campaign_id, self.flush_id(campaign_id), self.owner, self.at, self.kind)
                self.opened.add(campaign_id)
        for group, ops in groups.items():
            if group not in self.counted and group[0] not in self.closed:
                self.counted[group] = await recipients.write(ops)
        for campaign_id in sorted(self.opened - self.closed):
            flush = self.flush_id(campaign_id)
            if self.attempts > 1:  # a failed bulk write may have been applied in part: the stamps tell
                counts = await _stamped(recipients, flush, self.at)
            else:
                counts: Dict[Tuple[str, datetime], int] = defaultdict(int)
                for (c, counted, at), n in self.counted.items():
                    if c == campaign_id:
                        for counter, step in steps(counted):
                            counts[(counter, at)] += n * step
            await campaigns.close_flush(campaign_id, flush, counts)
            self.closed.add(campaign_id)
        return sum(self.counted.values())


class Committer:
    """Runs the group commits of owners with a heartbeat (one process's event consumer: status
    roll-ups and replies). A commit a store error interrupted after it registered is kept: only
    its owner may finish it while alive, and does so before its next commit (``settle``)."""

    def __init__(self, recipients: RecipientStore, campaigns: Any) -> None:
        self.recipients, self.campaigns = recipients, campaigns
        self._interrupted: List[Tuple[GroupCommit, Mapping[Group, List[UpdateOne]]]] = []

    def abandon(self) -> None:
        """Forget the interrupted commits: their owner stops (and deletes its heartbeat key), so
        maintenance finishes them from their stamps after the lease."""
        self._interrupted.clear()

    async def settle(self) -> None:
        """Finish the commits a store error interrupted (each from its stamps), oldest first."""
        while self._interrupted:
            commit, groups = self._interrupted[0]
            await commit.run(self.recipients, self.campaigns, groups)
            self._interrupted.pop(0)

    async def run(self, commit: GroupCommit, groups: Mapping[Group, List[UpdateOne]]) -> int:
        """``settle``, then write ``groups`` and add their counts as ``commit``; returns the records counted."""
        await self.settle()
        try:
            return await commit.run(self.recipients, self.campaigns, groups)
        except Exception:
            if commit.opened:  # registered under a live owner: nobody else will close it
                self._interrupted.append((commit, groups))
            raise


async def _stamped(recipients: RecipientStore, flush: str, at: datetime) -> Dict[Tuple[str, datetime], int]:
    return {(counter, at): n for counter, n in (await recipients.flush_counts(flush)).items()}


async def recover_flushes(recipients: RecipientStore, campaigns: Any, lease_seconds: float) -> int:
    """Finish the commits dead owners left open (step 3, counted from the stamps); returns how many.

    Only a commit registered more than ``lease_seconds`` ago whose owner's heartbeat key is gone:
    a live owner may still be writing its records, and closes its commit itself. Safe to repeat
    and to run on every replica at once (closing is conditional on the registration). The counts
    go to the timeline minute of the registration."""
    closed = 0
    for campaign_id, flush in await campaigns.pending_flushes(utcnow() - timedelta(seconds=lease_seconds)):
        if await campaigns.redis.exists(keys.worker_alive(flush["owner"])):
            continue
        counts = await _stamped(recipients, flush["id"], flush["at"])
        closed += await campaigns.close_flush(campaign_id, flush["id"], counts)
    return closed


async def heartbeat(redis: Any, owner: str, stop: asyncio.Event) -> None:
    """Keep ``owner``'s alive key while it runs (until ``stop``), so maintenance leaves its open
    commits (and a send worker's claims) alone. The caller deletes the key when it stops."""
    while not stop.is_set():
        try:
            await redis.set(keys.worker_alive(owner), "1", ex=HEARTBEAT_TTL)
        except Exception:  # noqa: BLE001 - Redis away: the key expires and the lease applies
            log.warning("%s: heartbeat not written", owner)
        await asyncio.sleep(HEARTBEAT_TTL / 4)

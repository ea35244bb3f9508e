"""Delivery tracking: status events -> per-recipient records -> campaign counters and analytics.

Records only move forward (campaigns.state); a counter is incremented only by the one
conditional update that made the move, so duplicated and reordered webhooks neither regress a
record nor count twice. The counts are added as a group commit (campaigns.commit, kind
``status``, owned by the calling event consumer): a consumer killed between the record writes
and the counter update leaves the commit registered with its records stamped, and maintenance
adds the counts; the re-delivered statuses then modify nothing and count nothing. ``analytics``
reads the counters; ``recount`` derives the same numbers from the records.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from pymongo import UpdateOne

from connectors import events

from .commit import STATUS as ROLL_UP, Committer, Group, GroupCommit
from .recipients import RecipientStore, parse_id
from .state import FUNNEL, RANK, RecipientState as R, funnel_levels
from .store import CampaignStore

STATUS = {events.MESSAGE_SENT: R.SENT, events.MESSAGE_DELIVERED: R.DELIVERED, events.MESSAGE_READ: R.READ}
TRANSIENT_ASYNC = {131049, 131000, 131016, 130429}


def _at(data: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(int(data.get("timestamp")), timezone.utc)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)


class Tracker:
    def __init__(self, campaigns: CampaignStore, recipients: RecipientStore, contacts: Any = None) -> None:
        self.campaigns, self.recipients, self.contacts = campaigns, recipients, contacts
        #: Runs this process's event consumer's commits (roll-ups here, replies in
        #: campaigns.followups): one interrupted is finished before the next (``settle``).
        self.commits = Committer(recipients, campaigns)

    async def _record_id(self, data: Mapping[str, Any]) -> Optional[str]:
        callback = data.get("biz_opaque_callback_data") or ""
        if callback.startswith("campaign:"):
            return callback
        wamid = data.get("wamid")
        if wamid:
            doc = await self.recipients.by_wamid(wamid)
            return doc["_id"] if doc else None
        return None

    async def on_status(self, kind: str, data: Mapping[str, Any], owner: str = "") -> bool:
        """Apply one ``message.sent|delivered|read|failed`` event; True when it changed a record.
        ``owner``: the event consumer's name, whose heartbeat keeps its roll-ups its own."""
        if kind == events.MESSAGE_FAILED and data.get("local"):
            return False  # refused before Meta: the worker records it itself
        rid = await self._record_id(data)
        if rid is None:
            return False
        campaign_id, wa_id = parse_id(rid)
        if kind in STATUS:
            return await self.on_statuses([(kind, {**data, "biz_opaque_callback_data": rid})], owner) > 0
        if kind == events.MESSAGE_FAILED:
            error = (data.get("errors") or [{}])[0]
            code = error.get("code")
            commit, at = GroupCommit(owner, ROLL_UP), _at(data)
            op = RecipientStore.fail_op(rid, error, code in TRANSIENT_ASYNC, R.FAILED, at, commit.flush_id(campaign_id),
                                        data.get("wamid") or "")
            if code == 131026 and self.contacts is not None:  # first, and every time (idempotent): a
                await self.contacts.mark_unreachable(wa_id, code)  # re-delivered failure counts nothing
            return await self.commits.run(commit, {(campaign_id, R.FAILED.value, at): [op]}) > 0
        return False

    @staticmethod
    def batchable(kind: str, data: Mapping[str, Any]) -> bool:
        """A sent/delivered/read status naming its campaign record (``on_statuses`` takes it)."""
        return kind in STATUS and str(data.get("biz_opaque_callback_data") or "").startswith("campaign:")

    async def on_statuses(self, statuses: Sequence[Tuple[str, Mapping[str, Any]]], owner: str = "") -> int:
        """Apply many ``batchable`` statuses (in stream order) in a few bulk writes; returns records changed.

        The same rules as ``on_status``: records move forward only, and each funnel level is
        counted by the one conditional update that added it to ``reached`` (one bulk write per
        campaign, level and minute, whose modified count is the increment), in one group commit
        of ``owner``. Safe to repeat. Round trips: the moves, per campaign the registration and
        the counter update, per campaign, level and minute one bulk write."""
        moves: List[UpdateOne] = []
        commit = GroupCommit(owner, ROLL_UP)
        reaches: Dict[Group, List[UpdateOne]] = defaultdict(list)
        for kind, data in statuses:
            rid, status, at = data["biz_opaque_callback_data"], STATUS[kind], _at(data)
            moves.append(RecipientStore.advance_op(rid, status, at, data.get("wamid") or ""))
            minute, campaign_id = at.replace(second=0, microsecond=0), parse_id(rid)[0]
            for level in funnel_levels(RANK[status]):
                reaches[(campaign_id, level, minute)].append(
                    RecipientStore.reach_op(rid, level, commit.flush_id(campaign_id)))
        changed = await self.recipients.write(moves)
        await self.commits.run(commit, reaches)
        return changed

    def abandon(self) -> None:
        """The owner stops: its interrupted commits are left to maintenance (``Committer.abandon``)."""
        self.commits.abandon()

    async def settle(self) -> None:
        """Finish the roll-ups and replies a store error interrupted (each from its stamps), oldest first."""
        await self.commits.settle()

    async def flag_stuck(self, minutes: float) -> int:
        """Mark records still only ``accepted``/``sent`` long after sending (probably dropped by Meta)."""
        cutoff = datetime.now(timezone.utc) - timedelta(minutes=minutes)
        result = await self.recipients.col.update_many(
            {"state": {"$in": [R.ACCEPTED.value, R.SENT.value]}, "sent_at": {"$lt": cutoff}, "stuck": {"$ne": True}},
            {"$set": {"stuck": True}})
        return result.modified_count

    async def recount(self, campaign_id: str) -> Dict[str, int]:
        """The funnel computed from the records themselves."""
        states = await self.recipients.counts(campaign_id)
        out = {name: await self.recipients.col.count_documents({"campaign_id": campaign_id, "reached": name})
               for name, _ in FUNNEL}
        out["failed"] = states.get(R.FAILED.value, 0)
        out["skipped"] = states.get(R.SKIPPED.value, 0)
        out["replied"] = await self.recipients.col.count_documents(
            {"campaign_id": campaign_id, "replied_at": {"$exists": True}})
        return out

    async def analytics(self, campaign_id: str) -> Dict[str, Any]:
        campaign = await self.campaigns.get(campaign_id)
        stats = {k: v for k, v in (campaign.get("stats") or {}).items()}
        audience = int(stats.get("audience", 0))
        sent = int(stats.get("sent", 0))
        counts = {name: int(stats.get(name, 0)) for name in
                  ("sent", "delivered", "read", "replied", "failed", "skipped")}
        rates = {
            "delivered": counts["delivered"] / sent if sent else 0.0,
            "read": counts["read"] / sent if sent else 0.0,
            "replied": counts["replied"] / sent if sent else 0.0,
            "failed": counts["failed"] / audience if audience else 0.0,
        }
        timeline = [{"minute": minute, **values} for minute, values in sorted((campaign.get("timeline") or {}).items())]
        return {
            "campaign_id": campaign_id, "state": campaign["state"], "audience": audience, "counts": counts,
            "rates": rates, "states": await self.recipients.counts(campaign_id),
            "stuck": await self.recipients.col.count_documents({"campaign_id": campaign_id, "stuck": True}),
            "failure_reasons": await self.recipients.failure_reasons(campaign_id),
            "timeline": timeline, "plan": campaign.get("plan"),
        }

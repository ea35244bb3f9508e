"""Replies to campaigns and what they trigger.

Attribution: a ``message.received`` whose ``context_id`` is a campaign wamid belongs to that
campaign; otherwise the latest campaign message sent to the contact within the campaign's
attribution window (default 72 h). The first reply marks the record replied, counted once by a
group commit (campaigns.commit, kind ``status``) of the event consumer that handles it: killed
between the record write and the count, the reply comes again and modifies nothing, and
maintenance adds the count from the record's stamp.

Campaign ``followups``:
    {"rules": [{"match": "Interested", "action": "template", "template_id": "...", "variables": {...}},
               {"match": "Talk to us", "action": "handoff"},
               {"match": "*", "action": "bot", "intent": "campaign_reply"}],
     "reminder": {"after_hours": 24, "template_id": "...", "variables": {...}}}
``match`` is compared case-insensitively with the quick-reply payload, the button title or the
text; ``*`` matches any reply. Each rule fires at most once per recipient. Actions:
``template`` sends a follow-up template (skipped while a human owns the chat), ``handoff``
emits ``handoff.requested``, ``bot`` emits ``campaign.replied`` for the bot (intent + context).
The reminder goes once, after ``after_hours``, to recipients who have not replied: claimed on
its record before it is sent (at-most-once), its outcome written after, and that write counted
``reminded`` by a group commit of its own, whose owner no heartbeat keeps (a scheduler job: left
open, it is maintenance's after the lease; campaigns.commit, Owners).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional

from connectors import events, keys as shared_keys
from connectors.events import Event
from connectors.ownership import Ownership

from ..templates import build_payload, ensure_sendable, resolve
from .commit import STATUS, GroupCommit
from .recipients import RecipientStore
from .state import RecipientState as R

log = logging.getLogger(__name__)
CAMPAIGN_REPLIED = "campaign.replied"
REPLIABLE = [R.ACCEPTED.value, R.SENT.value, R.DELIVERED.value, R.READ.value]


def reply_keys(data: Mapping[str, Any]) -> List[str]:
    return [str(data.get(k) or "").strip().lower() for k in ("payload", "title", "text") if data.get(k)]


def matching_rules(rules: List[Mapping[str, Any]], data: Mapping[str, Any]) -> List[int]:
    said = reply_keys(data)
    return [i for i, rule in enumerate(rules)
            if rule.get("match") == "*" or str(rule.get("match", "")).strip().lower() in said]


class FollowUps:
    def __init__(self, ctx: Any, purpose: Any = "campaign") -> None:
        self.ctx, self.purpose = ctx, purpose
        self.recipients: RecipientStore = ctx.recipients
        #: Replies are counted with the event consumer's commits (``settle`` finishes them).
        self.commits = ctx.tracker.commits
        #: Owner of the reminders' commits: no heartbeat keeps it (campaigns.commit, Owners).
        self.reminder_owner = f"{ctx.settings.consumer_name}-reminders/{uuid.uuid4().hex[:8]}"

    async def attribute(self, data: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        if data.get("context_id"):
            record = await self.recipients.by_wamid(data["context_id"])
            if record is not None:
                return record
        hours = self.ctx.settings.attribution_hours
        record = await self.recipients.latest_for(data.get("wa_id", ""),
                                                  datetime.now(timezone.utc) - timedelta(hours=hours))
        if record is None:
            return None
        campaign = await self.ctx.campaigns.get(record["campaign_id"])
        window = float(campaign.get("attribution_hours") or hours)
        sent_at = record["sent_at"] if record["sent_at"].tzinfo else record["sent_at"].replace(tzinfo=timezone.utc)
        return record if sent_at >= datetime.now(timezone.utc) - timedelta(hours=window) else None

    async def on_reply(self, data: Mapping[str, Any], owner: str = "") -> Optional[str]:
        """Tie a ``message.received`` to its campaign and run its follow-up rules; returns the record id.
        ``owner``: the event consumer's name, whose heartbeat keeps the reply's count its own."""
        record = await self.attribute(data)
        if record is None:
            return None
        reply = {k: data.get(k) for k in ("text", "payload", "title", "wamid")}
        commit, cid = GroupCommit(owner, STATUS), record["campaign_id"]
        op = RecipientStore.reply_op(record["_id"], reply, commit.at, commit.flush_id(cid))
        await self.commits.run(commit, {(cid, "replied", commit.at): [op]})
        campaign = await self.ctx.campaigns.get(record["campaign_id"])
        rules = (campaign.get("followups") or {}).get("rules") or []
        for index in matching_rules(rules, data):
            done = await self.recipients.col.update_one({"_id": record["_id"], "actions": {"$ne": index}},
                                                        {"$push": {"actions": index}})
            if done.modified_count:
                await self._act(rules[index], record, campaign, data)
        return record["_id"]

    async def _act(self, rule: Mapping[str, Any], record: Mapping[str, Any], campaign: Mapping[str, Any],
                   data: Mapping[str, Any]) -> None:
        wa_id, cid = record["wa_id"], campaign["_id"]
        action = rule.get("action")
        context = {"campaign_id": cid, "payload": data.get("payload"), "text": data.get("text")}
        if action == "handoff":
            await self._emit(events.HANDOFF_REQUESTED, f"campaign:{cid}:{wa_id}:handoff", {
                "wa_id": wa_id, "name": data.get("name") or "", "reason": f"rule:campaign:{cid}",
                "context": {"last_intent": rule.get("intent"), "slots": context, "turns": []}})
        elif action == "bot":
            await self._emit(CAMPAIGN_REPLIED, f"campaign:{cid}:{wa_id}:bot", {
                "wa_id": wa_id, "intent": rule.get("intent") or "campaign_reply", **context})
        elif action == "template":
            await self.send_template(cid, wa_id, rule, kind="followup")

    async def send_template(self, campaign_id: str, wa_id: str, rule: Mapping[str, Any], kind: str) -> Optional[str]:
        """Send a follow-up or reminder template, unless a human owns the conversation."""
        owner = Ownership.from_hash(await self.ctx.redis.hgetall(shared_keys.ownership(wa_id)) or {})
        if owner.owner.is_human:
            log.info("%s for %s skipped: a human owns the conversation", kind, wa_id)
            return None
        template = await self.ctx.templates.get(rule["template_id"])
        ensure_sendable(template)
        contact = await self.ctx.contacts.col.find_one({"_id": wa_id}) or {"_id": wa_id}
        values = resolve(rule.get("variables") or {}, template.get("variables") or [], contact)
        result = await self.ctx.sender.send("+" + wa_id, build_payload(template, values), purpose=self.purpose,
                                            category=template.get("category") or "marketing",
                                            by=f"campaign:{campaign_id}", callback_data=f"{kind}:{campaign_id}:{wa_id}")
        return result.wamid

    async def send_reminders(self, campaign: Mapping[str, Any]) -> int:
        """The no-reply reminder, once, to recipients without a reply after ``after_hours``."""
        reminder = (campaign.get("followups") or {}).get("reminder") or {}
        if not reminder.get("template_id"):
            return 0
        cutoff = datetime.now(timezone.utc) - timedelta(hours=float(reminder.get("after_hours", 24)))
        query = {"campaign_id": campaign["_id"], "state": {"$in": REPLIABLE}, "sent_at": {"$lte": cutoff},
                 "replied_at": {"$exists": False}, "reminder": {"$exists": False}}
        count = 0
        async for record in self.recipients.col.find(query, {"wa_id": 1}):
            # A point update (the find chose the record; a reply since then still wins): with the
            # whole query, SecantusDB scans the collection for every claim (README, Segments).
            claimed = await self.recipients.col.update_one(
                {"_id": record["_id"], "state": {"$in": REPLIABLE}, "replied_at": {"$exists": False},
                 "reminder": {"$exists": False}}, {"$set": {"reminder": {"state": "sending"}}})
            if not claimed.modified_count:
                continue
            try:
                wamid = await self.send_template(campaign["_id"], record["wa_id"], reminder, kind="reminder")
                state = {"state": "sent", "wamid": wamid} if wamid else {"state": "skipped"}
            except Exception as exc:  # noqa: BLE001 - recorded on the record, never retried (at-most-once)
                state = {"state": "failed", "error": str(exc)[:300]}
            commit, cid = GroupCommit(self.reminder_owner, STATUS), campaign["_id"]
            op = RecipientStore.remind_op(record["_id"], state, commit.at, commit.flush_id(cid))
            count += await commit.run(self.recipients, self.ctx.campaigns, {(cid, "reminded", commit.at): [op]})
        return count

    async def _emit(self, kind: str, event_id: str, data: Dict[str, Any]) -> None:
        await self.ctx.redis.xadd(shared_keys.EVENTS_STREAM, Event(kind, event_id, data).to_fields())

"""MongoDB (motor) backends. Standard MongoDB calls only; indexes made by `ensure_indexes`."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Dict, List, Optional, Sequence, Tuple

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from handoff import analytics
from handoff.errors import ConflictError
from handoff.models import (RANK_STATUS, STATUS_RANK, Agent, StatusUpdate, Ticket, TicketUpdate,
                            TranscriptEntry, as_utc)
from handoff.states import Status

TICKETS, TRANSCRIPT, AGENTS, TOKENS = ("handoff_tickets", "handoff_transcript", "handoff_agents",
                                       "handoff_tokens")


async def ensure_indexes(db: Any) -> None:
    await db[TICKETS].create_index("open_wa_id", unique=True, sparse=True)
    await db[TICKETS].create_index("request_id", unique=True, sparse=True)
    await db[TICKETS].create_index([("status", ASCENDING), ("queued_at", ASCENDING)])
    await db[TICKETS].create_index([("status", ASCENDING), ("waiting_since", ASCENDING)])
    await db[TICKETS].create_index([("agent", ASCENDING), ("status", ASCENDING)])
    await db[TICKETS].create_index([("status", ASCENDING), ("resolved_at", DESCENDING)])
    await db[TRANSCRIPT].create_index([("wa_id", ASCENDING), ("seq", ASCENDING)])
    await db[AGENTS].create_index("email", unique=True)


class MongoTicketStore:
    def __init__(self, db: Any) -> None:
        self._c = db[TICKETS]

    async def create(self, ticket: Ticket) -> Tuple[Ticket, bool]:
        for _ in range(3):
            try:
                await self._c.insert_one(ticket.to_doc())
                return ticket, True
            except DuplicateKeyError:
                found = await self._c.find_one({"$or": [
                    {"request_id": ticket.request_id or "\0"}, {"open_wa_id": ticket.wa_id}]})
                if found:
                    return Ticket.from_doc(found), False
        raise ConflictError("could not create the ticket", wa_id=ticket.wa_id)

    async def get(self, ticket_id: str) -> Optional[Ticket]:
        doc = await self._c.find_one({"_id": ticket_id})
        return Ticket.from_doc(doc) if doc else None

    async def open_for(self, wa_id: str) -> Optional[Ticket]:
        doc = await self._c.find_one({"open_wa_id": wa_id})
        return Ticket.from_doc(doc) if doc else None

    async def apply(self, ticket_id: str, sources: Collection[Status], update: TicketUpdate,
                    expect_agent: Optional[str] = None) -> Optional[Ticket]:
        query: Dict[str, Any] = {"_id": ticket_id, "status": {"$in": [s.value for s in sources]}}
        if expect_agent is not None:
            query["agent"] = expect_agent
        change: Dict[str, Any] = {
            "$set": {"status": update.status.value, "agent": update.agent, **update.stamps},
            "$push": {"audit": update.audit.to_doc()},
        }
        if update.status.is_open:
            change["$set"]["open_wa_id"] = update.wa_id
        else:
            change["$unset"] = {"open_wa_id": ""}
        try:
            doc = await self._c.find_one_and_update(query, change,
                                                    return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise ConflictError("the customer already has an open ticket") from exc
        return Ticket.from_doc(doc) if doc else None

    async def mark_first_reply(self, ticket_id: str, at: datetime) -> bool:
        result = await self._c.update_one({"_id": ticket_id, "first_reply_at": None},
                                          {"$set": {"first_reply_at": at}})
        return bool(result.modified_count)

    async def list(self, statuses: Collection[Status], agent: Optional[str] = None,
                   limit: int = 200) -> List[Ticket]:
        query: Dict[str, Any] = {"status": {"$in": [s.value for s in statuses]}}
        if agent is not None:
            query["agent"] = agent
        cursor = self._c.find(query).sort("queued_at", ASCENDING).limit(limit)
        return [Ticket.from_doc(d) async for d in cursor]

    async def waiting_before(self, cutoff: datetime, limit: int = 100) -> List[Ticket]:
        cursor = self._c.find({"status": Status.QUEUED.value, "waiting_since": {"$lt": cutoff}})
        return [Ticket.from_doc(d)
                async for d in cursor.sort("waiting_since", ASCENDING).limit(limit)]

    async def open_counts(self) -> Dict[str, int]:
        rows = self._c.aggregate([{"$match": {"status": Status.ASSIGNED.value}},
                                  {"$group": {"_id": "$agent", "n": {"$sum": 1}}}])
        return {r["_id"]: r["n"] async for r in rows}

    async def status_counts(self, statuses: Collection[Status]) -> Dict[str, int]:
        counts = {s.value: 0 for s in statuses}
        rows = self._c.aggregate([{"$match": {"status": {"$in": list(counts)}}},
                                  {"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        counts.update({r["_id"]: r["n"] async for r in rows})
        return counts

    async def handling_times(self, since: datetime, limit: int = 50) -> List[float]:
        cursor = self._c.find({"status": Status.RESOLVED.value, "resolved_at": {"$gte": since},
                               "assigned_at": {"$ne": None}},
                              {"assigned_at": 1, "resolved_at": 1})
        docs = await cursor.sort("resolved_at", DESCENDING).limit(limit).to_list(limit)
        return [(as_utc(d["resolved_at"]) - as_utc(d["assigned_at"])).total_seconds()  # type: ignore[operator]
                for d in docs]

    async def analytics(self, since: datetime) -> Dict[str, Any]:
        rows = {name: await self._c.aggregate(pipe).to_list(None)
                for name, pipe in analytics.pipelines(since).items()}
        return analytics.report(rows)


class MongoTranscriptStore:
    def __init__(self, db: Any) -> None:
        self._c = db[TRANSCRIPT]

    async def write(self, entries: Sequence[TranscriptEntry],
                    statuses: Sequence[StatusUpdate] = ()) -> None:
        ops = [UpdateOne({"_id": e.id}, {
            "$set": {"wa_id": e.wa_id, "at": e.at, "direction": e.direction, "by": e.by,
                     "kind": e.kind, "text": e.text, "seq": e.seq},
            "$max": {"status_rank": STATUS_RANK.get(e.status, 0)}}, upsert=True) for e in entries]
        for s in statuses:
            change: Dict[str, Any] = {"$max": {"status_rank": s.rank},
                                      "$setOnInsert": {"wa_id": s.wa_id}}
            if s.errors:
                change["$set"] = {"errors": s.errors}
            ops.append(UpdateOne({"_id": s.wamid}, change, upsert=True))
        if ops:
            await self._c.bulk_write(ops, ordered=True)

    async def history(self, wa_id: str, limit: int = 500) -> List[TranscriptEntry]:
        cursor = self._c.find({"wa_id": wa_id, "direction": {"$exists": True}})
        order = [("seq", DESCENDING), ("at", DESCENDING)]  # processing order, then Meta's time
        docs = [d async for d in cursor.sort(order).limit(limit)]
        return [TranscriptEntry(
            id=d["_id"], wa_id=d["wa_id"], at=as_utc(d["at"]), direction=d["direction"],  # type: ignore[arg-type]
            by=d["by"], kind=d.get("kind", "text"), text=d.get("text", ""),
            status=RANK_STATUS.get(d.get("status_rank", 0), ""), errors=d.get("errors", []),
            seq=d.get("seq", 0.0),
        ) for d in reversed(docs)]


class MongoAgentStore:
    def __init__(self, db: Any) -> None:
        self._c = db[AGENTS]
        self._tokens = db[TOKENS]

    async def create(self, agent: Agent) -> None:
        try:
            await self._c.insert_one(agent.to_doc())
        except DuplicateKeyError as exc:
            raise ConflictError("an agent with this id or email exists", agent=agent.id) from exc

    async def get(self, agent_id: str) -> Optional[Agent]:
        doc = await self._c.find_one({"_id": agent_id})
        return Agent.from_doc(doc) if doc else None

    async def by_email(self, email: str) -> Optional[Agent]:
        doc = await self._c.find_one({"email": email.lower()})
        return Agent.from_doc(doc) if doc else None

    async def list(self) -> List[Agent]:
        return [Agent.from_doc(d) async for d in self._c.find().sort("_id", ASCENDING)]

    async def update(self, agent_id: str, **fields: Any) -> Optional[Agent]:
        values = {k: (v.value if hasattr(v, "value") else v) for k, v in fields.items()}
        doc = await self._c.find_one_and_update({"_id": agent_id}, {"$set": values},
                                                return_document=ReturnDocument.AFTER)
        return Agent.from_doc(doc) if doc else None

    async def add_token(self, token_hash: str, agent_id: str, label: str) -> None:
        await self._tokens.insert_one({"_id": token_hash, "agent": agent_id, "label": label})

    async def agent_for_token(self, token_hash: str) -> Optional[str]:
        doc = await self._tokens.find_one({"_id": token_hash})
        return doc["agent"] if doc else None

    async def revoke_token(self, token_hash: str) -> bool:
        return bool((await self._tokens.delete_one({"_id": token_hash})).deleted_count)

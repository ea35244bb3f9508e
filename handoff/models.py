"""Plain values of the handoff domain: tickets, audit entries, transcript entries, agents."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from handoff.states import Status


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: Optional[datetime]) -> Optional[datetime]:
    """Drivers may hand back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(value: Optional[datetime]) -> Optional[str]:
    return as_utc(value).isoformat() if value else None  # type: ignore[union-attr]


class Role(str, enum.Enum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    MARKETER = "marketer"  # broadcasts only; never sees or works the agent queue

    @property
    def sees_everything(self) -> bool:
        return self in (Role.ADMIN, Role.SUPERVISOR)


#: Who may use which console/API. One login (one agents collection, one session store) serves
#: both services; each service admits only its roles (handoff.guard.authenticate).
HANDOFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})
BROADCASTS_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.MARKETER})


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    by: str            # "agent:<id>", "system", "bot", "api:<agent id>"
    action: str
    from_status: Optional[str]
    to_status: str
    agent: str = ""    # the owner after the move
    note: str = ""

    def to_doc(self) -> Dict[str, Any]:
        return {"at": self.at, "by": self.by, "action": self.action, "from": self.from_status,
                "to": self.to_status, "agent": self.agent, "note": self.note}

    @classmethod
    def from_doc(cls, doc: Dict[str, Any]) -> "AuditEntry":
        return cls(as_utc(doc["at"]), doc["by"], doc["action"], doc.get("from"), doc["to"],  # type: ignore[arg-type]
                   doc.get("agent", ""), doc.get("note", ""))


TIMESTAMPS = ("queued_at", "waiting_since", "assigned_at", "first_reply_at", "resolved_at",
              "timed_out_at")


@dataclass(frozen=True)
class Ticket:
    id: str
    wa_id: str
    name: str
    status: Status
    reason: str
    context: Dict[str, Any]
    queued_at: datetime
    agent: str = ""
    request_id: str = ""
    waiting_since: Optional[datetime] = None  # queued_at, or the last requeue
    assigned_at: Optional[datetime] = None
    first_reply_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    timed_out_at: Optional[datetime] = None
    audit: List[AuditEntry] = field(default_factory=list)

    def to_doc(self) -> Dict[str, Any]:
        doc: Dict[str, Any] = {
            "_id": self.id, "wa_id": self.wa_id, "name": self.name, "status": self.status.value,
            "reason": self.reason, "context": self.context, "agent": self.agent,
            "audit": [a.to_doc() for a in self.audit],
        }
        if self.request_id:  # unique sparse index: a repeated request event is harmless
            doc["request_id"] = self.request_id
        for name in TIMESTAMPS:
            doc[name] = getattr(self, name)
        if self.status.is_open:
            doc["open_wa_id"] = self.wa_id  # unique sparse index: one open ticket per customer
        return doc

    @classmethod
    def from_doc(cls, doc: Dict[str, Any]) -> "Ticket":
        return cls(
            id=doc["_id"], wa_id=doc["wa_id"], name=doc.get("name", ""),
            status=Status(doc["status"]), reason=doc.get("reason", ""),
            context=doc.get("context") or {}, agent=doc.get("agent", ""),
            request_id=doc.get("request_id", ""),
            audit=[AuditEntry.from_doc(a) for a in doc.get("audit", [])],
            **{name: as_utc(doc.get(name)) for name in TIMESTAMPS},  # type: ignore[arg-type]
        )

    def to_json(self) -> Dict[str, Any]:
        """The shape the console and the REST API see."""
        out: Dict[str, Any] = {
            "id": self.id, "wa_id": self.wa_id, "name": self.name, "status": self.status.value,
            "agent": self.agent, "reason": self.reason, "context": self.context,
            "seq": len(self.audit), "audit": [{**a.to_doc(), "at": iso(a.at)} for a in self.audit],
        }
        out.update({name: iso(getattr(self, name)) for name in TIMESTAMPS})
        return out

    def summary(self) -> Dict[str, Any]:
        """What a queue row needs (no context, no audit): safe to broadcast to every agent."""
        return {"id": self.id, "wa_id": self.wa_id, "name": self.name, "status": self.status.value,
                "agent": self.agent, "reason": self.reason, "seq": len(self.audit),
                **{name: iso(getattr(self, name)) for name in TIMESTAMPS}}

    def with_changes(self, **changes: Any) -> "Ticket":
        return replace(self, **changes)


@dataclass(frozen=True)
class TicketUpdate:
    """One transition's effect on a stored ticket, applied atomically by a store."""

    status: Status
    agent: str
    audit: AuditEntry
    wa_id: str
    stamps: Dict[str, datetime] = field(default_factory=dict)


STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
RANK_STATUS = {rank: name for name, rank in STATUS_RANK.items()}


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of a conversation: a message (keyed by wamid) or a system note."""

    id: str
    wa_id: str
    at: datetime
    direction: str               # "in" | "out" | "system"
    by: str                      # "customer" | "bot" | "agent:<id>" | "campaign:<id>" | "system"
    kind: str = "text"
    text: str = ""
    status: str = ""             # delivery status of outbound messages
    errors: List[Dict[str, Any]] = field(default_factory=list)
    seq: float = 0.0             # when Parley recorded the event: the transcript's order

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.id, "wa_id": self.wa_id, "at": iso(self.at), "direction": self.direction,
                "by": self.by, "kind": self.kind, "text": self.text, "status": self.status,
                "errors": self.errors}


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery status for an outbound wamid; applied monotonically (sent < delivered < read)."""

    wamid: str
    wa_id: str
    status: str
    at: datetime
    errors: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def rank(self) -> int:
        return STATUS_RANK.get(self.status, 0)


@dataclass(frozen=True)
class Agent:
    id: str
    email: str
    name: str
    role: Role
    password_hash: str
    active: bool = True
    capacity: int = 5
    created_at: datetime = field(default_factory=utcnow)

    def to_doc(self) -> Dict[str, Any]:
        return {"_id": self.id, "email": self.email.lower(), "name": self.name,
                "role": self.role.value, "password_hash": self.password_hash,
                "active": self.active, "capacity": self.capacity, "created_at": self.created_at}

    @classmethod
    def from_doc(cls, doc: Dict[str, Any]) -> "Agent":
        return cls(doc["_id"], doc["email"], doc.get("name", ""), Role(doc["role"]),
                   doc["password_hash"], doc.get("active", True), doc.get("capacity", 5),
                   as_utc(doc.get("created_at")) or utcnow())

    def public(self) -> Dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role.value,
                "active": self.active, "capacity": self.capacity}

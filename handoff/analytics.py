"""Handoff analytics: queue time, time to first reply, handling time, reasons, bot deflection,
per day and per agent. MongoDB computes them with aggregation pipelines (`pipelines`); the
in-memory twin computes the same figures in Python (`summarize`); both end in `report`."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional

from handoff.models import Ticket

_SECONDS = {"queue": ("queued_at", "assigned_at"), "first_reply": ("assigned_at", "first_reply_at"),
            "handling": ("assigned_at", "resolved_at")}
_COUNTS = {"requested": None, "assigned": "assigned_at", "resolved": "resolved_at",
           "timed_out": "timed_out_at"}


def pipelines(since: datetime) -> Dict[str, List[Dict[str, Any]]]:
    """One aggregation per grouping ("days", "agents", "reasons") over the tickets collection."""
    match = {"$match": {"queued_at": {"$gte": since}}}
    figures: Dict[str, Any] = {
        f"avg_{name}_ms": {"$avg": {"$subtract": [f"${end}", f"${start}"]}}
        for name, (start, end) in _SECONDS.items()
    }
    for name, stamp in _COUNTS.items():
        figures[name] = {"$sum": 1} if stamp is None else {
            "$sum": {"$cond": [{"$gt": [f"${stamp}", None]}, 1, 0]}}
    day = {"$dateToString": {"format": "%Y-%m-%d", "date": "$queued_at"}}
    return {
        "days": [match, {"$group": {"_id": day, **figures}}],
        "agents": [match, {"$match": {"agent": {"$gt": ""}}}, {"$group": {"_id": "$agent", **figures}}],
        "reasons": [match, {"$group": {"_id": "$reason", "requested": {"$sum": 1}}}],
    }


def summarize(tickets: Iterable[Ticket], since: datetime) -> Dict[str, List[Dict[str, Any]]]:
    """The rows `pipelines` yields, computed in Python (for the in-memory store)."""
    groups: Dict[str, Dict[Any, List[Ticket]]] = {"days": {}, "agents": {}, "reasons": {}}
    for t in tickets:
        if t.queued_at < since:
            continue
        groups["days"].setdefault(t.queued_at.strftime("%Y-%m-%d"), []).append(t)
        if t.agent:
            groups["agents"].setdefault(t.agent, []).append(t)
        groups["reasons"].setdefault(t.reason, []).append(t)
    rows: Dict[str, List[Dict[str, Any]]] = {}
    for grouping in ("days", "agents"):
        rows[grouping] = [{"_id": key, **_figures(group)} for key, group in groups[grouping].items()]
    rows["reasons"] = [{"_id": k, "requested": len(g)} for k, g in groups["reasons"].items()]
    return rows


def _figures(group: List[Ticket]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, (start, end) in _SECONDS.items():
        spans = [(getattr(t, end) - getattr(t, start)).total_seconds() * 1000 for t in group
                 if getattr(t, end) and getattr(t, start)]
        out[f"avg_{name}_ms"] = sum(spans) / len(spans) if spans else None
    for name, stamp in _COUNTS.items():
        out[name] = len(group) if stamp is None else sum(1 for t in group if getattr(t, stamp))
    return out


def report(rows: Mapping[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    """Normalise raw rows (either backend) into the API's shape, sorted, in seconds."""
    def clean(row: Dict[str, Any], key: str) -> Dict[str, Any]:
        out: Dict[str, Any] = {key: row["_id"]}
        for name, value in row.items():
            if name.endswith("_ms"):
                out[name[:-3] + "_s"] = None if value is None else round(value / 1000, 1)
            elif name != "_id":
                out[name] = value
        return out

    return {
        "days": sorted((clean(r, "day") for r in rows["days"]), key=lambda r: r["day"]),
        "agents": sorted((clean(r, "agent") for r in rows["agents"]), key=lambda r: r["agent"]),
        "reasons": sorted(({"reason": r["_id"], "count": r["requested"]} for r in rows["reasons"]),
                          key=lambda r: (-r["count"], r["reason"])),
    }


def with_deflection(result: Dict[str, Any], conversations: Mapping[str, int]) -> Dict[str, Any]:
    """Add the bot deflection rate per day: the share of conversations never handed off."""
    for row in result["days"]:
        total = conversations.get(row["day"], 0)
        row["conversations"] = total
        row["deflection_rate"] = _rate(total, row["requested"])
    total = sum(conversations.values())
    requested = sum(r["requested"] for r in result["days"])
    result["totals"] = {"conversations": total, "requested": requested,
                        "resolved": sum(r["resolved"] for r in result["days"]),
                        "timed_out": sum(r["timed_out"] for r in result["days"]),
                        "deflection_rate": _rate(total, requested)}
    return result


def _rate(total: int, handed_off: int) -> Optional[float]:
    return None if total <= 0 else round(max(0.0, 1 - handed_off / total), 3)

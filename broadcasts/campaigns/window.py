"""A campaign's allowed sending window (e.g. 10:00-20:00 in the campaign's time zone)."""
from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo


def _parse(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_window(campaign: Mapping[str, Any], now: Optional[datetime] = None) -> bool:
    """True when the campaign may send now (no window configured = always)."""
    schedule = campaign.get("schedule") or {}
    window = schedule.get("window") or {}
    if not window.get("start") or not window.get("end"):
        return True
    local = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(schedule.get("timezone") or "UTC")).time()
    start, end = _parse(window["start"]), _parse(window["end"])
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight, e.g. 22:00-06:00

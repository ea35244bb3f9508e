"""Orders in MongoDB (`orders` collection) and how the bot words them on WhatsApp.

Document: ``{order_id, wa_id, status, items: [{name, size, qty, price}], placed_at,
expected_delivery, carrier, tracking_url}`` (see bot/seed_orders.py).
"""
from __future__ import annotations

import contextlib
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Mapping, Optional

log = logging.getLogger(__name__)
IST = timezone(timedelta(hours=5, minutes=30))
_ID = re.compile(r"ps\s*[-_#]?\s*(\d{5})", re.IGNORECASE)
STATUS_TEXT = {
    "placed": "Order placed ✅, getting packed",
    "packed": "Packed 📦, ready to ship",
    "shipped": "Shipped 🚚",
    "out_for_delivery": "Out for delivery today 🛵",
    "delivered": "Delivered ✅",
    "delayed": "Delayed ⏳",
    "cancelled": "Cancelled ❌",
    "returned": "Returned 🔁, refund processed",
}


class OrdersUnavailable(Exception):
    """MongoDB could not be reached in time."""


def normalise_id(raw: Optional[str]) -> Optional[str]:
    """'ps 10023', 'PS10023', 'ps-10023' -> 'PS-10023'; anything else -> None."""
    match = _ID.search(raw or "")
    return f"PS-{match.group(1)}" if match else None


@contextlib.contextmanager
def _unavailable_on_error(what: str) -> Iterator[None]:
    """Any driver error means "can't check now": logged, then raised as OrdersUnavailable."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        log.warning("orders unavailable (%s): %r", what, exc)
        raise OrdersUnavailable(str(exc)) from exc


async def find(db: Any, order_id: str) -> Optional[Dict[str, Any]]:
    with _unavailable_on_error("find"):
        return await db.orders.find_one({"order_id": order_id}, {"_id": 0})


async def recent(db: Any, wa_id: str, limit: int = 3) -> List[Dict[str, Any]]:
    with _unavailable_on_error("recent"):
        cursor = db.orders.find({"wa_id": wa_id}, {"_id": 0}).sort("placed_at", -1).limit(limit)
        return await cursor.to_list(length=limit)


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(IST).strftime("%a, %d %b")
    return str(value) if value else ""


def is_late(order: Mapping[str, Any], now: Optional[datetime] = None) -> bool:
    expected = order.get("expected_delivery")
    if order.get("status") == "delayed":
        return True
    if not isinstance(expected, datetime) or order.get("status") in {"delivered", "cancelled", "returned"}:
        return False
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=timezone.utc)
    return expected < (now or datetime.now(timezone.utc))


def describe(order: Mapping[str, Any], full: bool) -> str:
    """The order status message. `full` (the order belongs to this number) adds items and the
    tracking link; otherwise only status and date, so an order id alone leaks nothing more."""
    status = str(order.get("status") or "")
    lines = [f"📦 Order {order.get('order_id')}", STATUS_TEXT.get(status, status.replace("_", " ").title())]
    expected = _day(order.get("expected_delivery"))
    if status == "delivered":
        lines[-1] += f" on {expected}" if expected else ""
    elif expected and status not in {"cancelled", "returned"}:
        lines.append(f"Expected by {expected}")
    if full:
        items = ", ".join(
            f"{i.get('name')} (UK {i.get('size')})" + (f" ×{i.get('qty')}" if (i.get("qty") or 1) > 1 else "")
            for i in order.get("items") or []
        )
        if items:
            lines.append(f"Items: {items}")
        if order.get("tracking_url") and status in {"shipped", "out_for_delivery", "delayed"}:
            lines.append(f"Track with {order.get('carrier') or 'the courier'}: {order['tracking_url']}")
    else:
        lines.append("(For your privacy, full details are shown only on the number that placed the order.)")
    if is_late(order):
        lines.append("Sorry it's running late 🙏. Our team can chase the courier for you.")
    return "\n".join(lines)

"""Upsert the demo orders into MongoDB (idempotent): `python -m bot.seed_orders`.

Reads MONGODB_URL and MONGODB_DB (default `parley`). Dates are relative to today, so the demo
always has orders in transit, delivered and late. Customers 919800000001..5 own them; chat from
one of those numbers (e.g. in the sandbox) to see full details.
"""
from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

from bot.actions.settings import Settings

DEMO_CUSTOMERS = [f"9198000000{n:02d}" for n in range(1, 6)]


def demo_orders(now: Optional[datetime] = None) -> List[Dict[str, Any]]:
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    day = timedelta(days=1)
    rows = [
        # order_id, customer, status, items, placed (days ago), expected (days from now), carrier
        ("PS-10001", 0, "delivered", [("Chalo Runner", 9, 1, 2999)], 9, -4, "Delhivery"),
        ("PS-10002", 0, "shipped", [("Cloud Slide", 8, 2, 899)], 2, 2, "Blue Dart"),
        ("PS-10003", 1, "placed", [("Kolhapuri Classic", 7, 1, 1499)], 0, 5, ""),
        ("PS-10004", 1, "out_for_delivery", [("Desi Court", 10, 1, 2299)], 3, 0, "Ekart"),
        ("PS-10005", 2, "delayed", [("Monsoon Trek", 11, 1, 3499)], 8, -1, "Delhivery"),
        ("PS-10006", 2, "cancelled", [("Metro Loafer", 8, 1, 2499)], 6, None, ""),
        ("PS-10007", 3, "packed", [("Mojari Festive", 9, 1, 1999), ("Cloud Slide", 9, 1, 899)],
         1, 4, "Xpressbees"),
        ("PS-10008", 3, "returned", [("Sprint Flex", 8, 1, 3999)], 20, None, "Blue Dart"),
        ("PS-10009", 4, "shipped", [("Sprint Flex", 10, 1, 3999)], 4, -2, "Ekart"),
        ("PS-10023", 4, "shipped", [("Chalo Runner", 8, 1, 2999)], 2, 3, "Delhivery"),
    ]
    orders = []
    for order_id, who, status, items, placed, expected, carrier in rows:
        orders.append({
            "order_id": order_id,
            "wa_id": DEMO_CUSTOMERS[who],
            "status": status,
            "items": [{"name": n, "size": s, "qty": q, "price": p} for n, s, q, p in items],
            "placed_at": now - placed * day,
            "expected_delivery": None if expected is None else now + expected * day,
            "carrier": carrier,
            "tracking_url": f"https://track.paidal.in/{order_id}" if carrier else "",
        })
    return orders


async def seed(db: Any, now: Optional[datetime] = None) -> int:
    """Upsert the demo orders by order_id; returns how many there are."""
    orders = demo_orders(now)
    await db.orders.create_index("order_id", unique=True)
    await db.orders.create_index([("wa_id", 1), ("placed_at", -1)])
    for order in orders:
        await db.orders.replace_one({"order_id": order["order_id"]}, order, upsert=True)
    return len(orders)


async def _main() -> int:
    from motor.motor_asyncio import AsyncIOMotorClient

    settings = Settings.from_env()
    client = AsyncIOMotorClient(settings.mongodb_url, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        count = await seed(client[settings.mongodb_db])
    finally:
        client.close()
    print(f"seeded {count} demo orders into {settings.mongodb_db}.orders")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))

"""Order tracking against the MongoDB-compatible server (skipped when none is available)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot import seed_orders
from bot.actions import clients
from bot.actions.settings import Settings

from .conftest import tracker, user

pytestmark = pytest.mark.bot
OWNER = seed_orders.DEMO_CUSTOMERS[4]  # owns PS-10023 and PS-10009
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def ask(order_id_text, sender=OWNER):
    entities = [{"entity": "order_id", "value": order_id_text}] if order_id_text else []
    return tracker(sender, [user(f"where is {order_id_text}", "order_status", entities)],
                   slots={"order_id": order_id_text})


async def test_seeding_is_idempotent(mongo):
    assert await seed_orders.seed(mongo, NOW) == 10
    assert await seed_orders.seed(mongo, NOW) == 10
    assert await mongo.orders.count_documents({}) == 10


async def test_own_order_shows_items_and_tracking(mongo, run_action):
    await seed_orders.seed(mongo)
    result = await run_action("action_order_status", ask("ps 10023"))
    text = result["responses"][0]["text"]
    assert "PS-10023" in text and "Shipped" in text
    assert "Chalo Runner (UK 8)" in text and "https://track.paidal.in/PS-10023" in text
    assert {"event": "slot", "name": "order_id", "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in result["events"]]


async def test_someone_elses_order_shows_status_only(mongo, run_action):
    await seed_orders.seed(mongo)
    text = (await run_action("action_order_status", ask("PS-10023", sender="919999999999")))["responses"][0]["text"]
    assert "Shipped" in text and "Chalo Runner" not in text and "privacy" in text


async def test_late_order_offers_a_human(mongo, run_action):
    await seed_orders.seed(mongo)
    reply = (await run_action("action_order_status", ask("PS-10005", sender=seed_orders.DEMO_CUSTOMERS[2])))["responses"][0]
    assert "Delayed" in reply["text"]
    assert [b["payload"] for b in reply["buttons"]] == ["/human_handoff"]


async def test_unknown_order(mongo, run_action):
    await seed_orders.seed(mongo)
    reply = (await run_action("action_order_status", ask("PS-99999")))["responses"][0]
    assert "couldn't find an order PS-99999" in reply["text"]
    assert reply["buttons"][0]["payload"] == "/human_handoff"


async def test_missing_id_is_asked_for_with_recent_orders_as_buttons(mongo, run_action):
    await seed_orders.seed(mongo)
    reply = (await run_action("action_ask_order_id", ask(None)))["responses"][0]
    assert [b["title"] for b in reply["buttons"]] == ["PS-10023", "PS-10009"]
    assert reply["buttons"][0]["payload"] == '/inform{"order_id":"PS-10023"}'
    assert all(len(b["title"]) <= 20 for b in reply["buttons"])


async def test_mongodb_down_apologises_and_offers_a_human(run_action):
    clients.use(settings=Settings(mongodb_url="mongodb://127.0.0.1:9/", io_timeout_s=0.3))
    try:
        reply = (await run_action("action_order_status", ask("PS-10023")))["responses"][0]
        ask_reply = (await run_action("action_ask_order_id", ask(None)))["responses"][0]
    finally:
        await clients.reset()
    assert "can't check orders right now" in reply["text"]
    assert reply["buttons"][0]["payload"] == "/human_handoff"
    assert "order ID" in ask_reply["text"]

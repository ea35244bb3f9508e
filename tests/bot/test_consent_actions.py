"""STOP / START through the action server's executor, against real Redis."""
from __future__ import annotations

import json

import pytest

from bot.actions import clients
from bot.actions.settings import Settings
from connectors import keys
from connectors.events import Event

from .conftest import tracker, user

pytestmark = pytest.mark.bot
WA = "919812345678"


async def events_of(redis, kind):
    entries = await redis.xrange(keys.EVENTS_STREAM)
    return [e for e in (Event.from_fields(f) for _, f in entries) if e.type == kind]


async def test_opt_out_sets_key_emits_event_and_confirms(redis, run_action):
    result = await run_action("action_opt_out", tracker(WA, [user("STOP", "opt_out", message_id="wamid.1")]))

    value = (await redis.get(keys.consent_optout(WA))).decode()
    assert value.endswith(" bot") and value.split()[0].isdigit()
    [event] = await events_of(redis, "contact.opted_out")
    assert event.id == f"{WA}:wamid.1"
    assert event.data == {"wa_id": WA, "source": "bot", "category": "marketing"}
    assert "won't get offers" in result["responses"][0]["text"]


async def test_opt_in_deletes_key_emits_event_and_confirms(redis, run_action):
    await redis.set(keys.consent_optout(WA), "1 bot")
    result = await run_action("action_opt_in", tracker(WA, [user("START", "opt_in", message_id="wamid.2")]))

    assert await redis.exists(keys.consent_optout(WA)) == 0
    [event] = await events_of(redis, "contact.opted_in")
    assert event.data["wa_id"] == WA and event.data["category"] == "marketing"
    assert "You're in" in result["responses"][0]["text"]


async def test_redis_down_never_claims_success(run_action):
    clients.use(settings=Settings(redis_url="redis://127.0.0.1:9/0", io_timeout_s=0.3))
    try:
        result = await run_action("action_opt_out", tracker(WA, [user("stop", "opt_out")]))
    finally:
        await clients.reset()
    [reply] = result["responses"]
    assert "couldn't update your preferences" in reply["text"]
    assert "Done" not in reply["text"]

"""Handoff request, repeated fallbacks and hand-back, against real Redis."""
from __future__ import annotations

import pytest

from bot.actions import clients
from bot.actions.settings import Settings
from connectors import keys
from connectors.events import Event
from connectors.ownership import Owner, Ownership

from .conftest import bot, tracker, user

pytestmark = pytest.mark.bot
WA = "919800011122"


async def handoff_events(redis):
    entries = await redis.xrange(keys.EVENTS_STREAM)
    return [e for e in (Event.from_fields(f) for _, f in entries) if e.type == "handoff.requested"]


def slot_events(result):
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}


async def test_asked_handoff_queues_with_context_and_tells_the_customer(redis, run_action):
    events = [user("where is my order PS-10023", "order_status", message_id="w1",
                   entities=[{"entity": "order_id", "value": "PS-10023"}]),
              bot("📦 Order PS-10023 Shipped"),
              user("talk to a human", "human_handoff", message_id="w2")]
    result = await run_action("action_request_handoff",
                              tracker(WA, events, slots={"customer_name": "Asha", "order_id": "PS-10023",
                                                         "handoff_offered": False}))

    owner = Ownership.from_hash(await redis.hgetall(keys.ownership(WA)))
    assert owner.owner is Owner.QUEUED
    assert (await redis.hget(keys.ownership(WA), "reason")) == b"asked"
    [event] = await handoff_events(redis)
    assert event.id == f"{WA}:w2"
    assert event.data["wa_id"] == WA and event.data["name"] == "Asha" and event.data["reason"] == "asked"
    ctx = event.data["context"]
    assert ctx["last_intent"] == "order_status"
    assert ctx["slots"] == {"customer_name": "Asha", "order_id": "PS-10023"}
    assert [t["by"] for t in ctx["turns"]] == ["user", "bot", "user"]  # docs/contracts.md
    assert all(set(t) <= {"by", "text", "timestamp"} for t in ctx["turns"]), ctx["turns"]
    assert "Connecting you to our team" in result["responses"][0]["text"]


async def test_a_chat_a_human_already_owns_is_left_alone(redis, run_action):
    await redis.hset(keys.ownership(WA), mapping=Ownership(Owner.ASSIGNED, "agent-7", "t1").to_hash())
    result = await run_action("action_request_handoff", tracker(WA, [user("human", "human_handoff")]))

    assert Ownership.from_hash(await redis.hgetall(keys.ownership(WA))).agent == "agent-7"
    assert await handoff_events(redis) == []
    assert "already with our team" in result["responses"][0]["text"]


async def test_redis_down_says_so(run_action):
    clients.use(settings=Settings(redis_url="redis://127.0.0.1:9/0", io_timeout_s=0.3))
    try:
        result = await run_action("action_request_handoff", tracker(WA, [user("agent", "human_handoff")]))
    finally:
        await clients.reset()
    assert "couldn't reach our team" in result["responses"][0]["text"]


async def test_first_fallback_asks_to_rephrase_second_offers_a_human(redis, run_action):
    first = [user("asdf qwe", "nlu_fallback")]
    assert slot_events(await run_action("action_handle_fallback", tracker(WA, first))) == {
        "fallback_step": "rephrase"}

    second = first + [bot("Sorry, I didn't get that"), user("zzz blorp", "nlu_fallback")]
    assert slot_events(await run_action("action_handle_fallback", tracker(WA, second))) == {
        "fallback_step": "offer_human", "handoff_offered": True, "handoff_reason": "fallback"}

    # A recognised message in between resets the count.
    broken = first + [user("hi", "greet"), user("zzz", "nlu_fallback")]
    assert slot_events(await run_action("action_handle_fallback", tracker(WA, broken)))["fallback_step"] == "rephrase"


async def test_accepting_the_offer_hands_off_with_reason_fallback(redis, run_action):
    events = [user("asdf", "nlu_fallback"), user("qwer", "nlu_fallback"), user("yes", "affirm", message_id="w9")]
    await run_action("action_request_handoff",
                     tracker(WA, events, slots={"handoff_offered": True, "handoff_reason": "fallback"}))
    [event] = await handoff_events(redis)
    assert event.data["reason"] == "fallback"
    assert event.data["context"]["last_intent"] == "nlu_fallback"


async def test_vip_customer_goes_to_a_human_at_the_first_fallback(mongo, redis, run_action):
    await mongo.contacts.insert_one({"_id": WA, "tags": ["VIP", "mumbai"]})
    result = await run_action("action_handle_fallback", tracker(WA, [user("hmm??", "nlu_fallback")]))
    assert slot_events(result) == {"fallback_step": "handoff", "handoff_reason": "rule:vip"}

    events = [user("hmm??", "nlu_fallback", message_id="w5")]
    await run_action("action_request_handoff", tracker(WA, events, slots={"handoff_reason": "rule:vip"}))
    [event] = await handoff_events(redis)
    assert event.data["reason"] == "rule:vip"


async def test_hand_back_clears_stale_state_but_keeps_the_name(redis, run_action):
    result = await run_action("action_handoff_ended", tracker(
        WA, [user("/handoff_ended", "handoff_ended")], active_loop="order_form",
        slots={"customer_name": "Asha", "order_id": "PS-10001", "handoff_offered": True}))

    kinds = [e["event"] for e in result["events"]]
    assert kinds == ["active_loop", "reset_slots", "slot"]
    assert result["events"][-1]["name"] == "customer_name" and result["events"][-1]["value"] == "Asha"
    assert "back with the Paidal assistant" in result["responses"][0]["text"]


async def test_new_session_carries_only_the_name(run_action):
    result = await run_action("action_session_start", tracker(
        WA, [], slots={"customer_name": "Asha", "order_id": "PS-10001", "pincode": "560038",
                       "session_started_metadata": {"name": "Asha K"}}))
    kinds = [e["event"] for e in result["events"]]
    assert kinds == ["session_started", "slot", "action"]
    assert result["events"][1]["name"] == "customer_name" and result["events"][1]["value"] == "Asha K"

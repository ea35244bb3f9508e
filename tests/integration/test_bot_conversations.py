"""The bot's acceptance through the whole real path, one scripted conversation per flow.

A virtual customer on the sandbox sends a message -> signed webhook -> the connector in rasa
(ingest, consumer, routing; real Redis) -> Rasa + the action server (orders from MongoDB) ->
the one send path -> the sandbox's outbox, where replies are checked by their content. Events,
ownership and the handoff inbox are read from the platform's Redis (connectors.keys).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest

from connectors import events, keys
from tests.plugins.platform import Customer, Platform, reply_buttons, reply_text, with_services
from tests.plugins.sandbox import http

pytestmark = pytest.mark.slow

#: What the bot says (bot/domain.yml, bot/actions): fragments, so copy edits rarely break tests.
ASKS_FOR_ORDER_ID = "share your order ID"
DID_NOT_GET_IT = "didn't get that"
OFFERS_HUMAN = "Shall I connect you to someone from our team?"
QUEUED = "Connecting you to our team"
OPTED_OUT = "You won't get offers or promotions"
ASKS_TO_OPT_IN = "Get offers and new arrivals"
OPTED_IN = "You're in"
MEDIA = "I can only read text"
LOCATION = "please type your 6-digit pincode"
GREETING = "Welcome to Paidal Shoes"
#: Two texts with no known word: bot.components.UnknownWordsGuard sends them to nlu_fallback.
GIBBERISH = ("qwzx plorb vrenk", "xkcd qqq zzz")
#: How long a message routed away from the bot is given to (wrongly) produce a reply anyway.
QUIET_S = 1.5


def only_text(messages: List[Dict[str, Any]]) -> str:
    assert len(messages) == 1, [reply_text(m) for m in messages]
    return reply_text(messages[0])


def seeded_status(platform: Platform, order_id: str) -> str:
    """The order's status as `python -m bot.seed_orders` stored it, in words ("out for delivery")."""
    import pymongo

    client: Any = pymongo.MongoClient(platform.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        order = client[platform.mongo_db].orders.find_one({"order_id": order_id})
    finally:
        client.close()
    assert order is not None, f"{order_id} was not seeded"
    return str(order["status"]).replace("_", " ")


def tap(title: str, payload: str) -> Dict[str, Any]:
    """The customer taps a reply button the bot sent."""
    return {"type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": payload, "title": title}}}


def ask_for_a_human(customer: Customer) -> None:
    assert QUEUED in only_text(customer.ask("talk to a human"))


# -- the flows ------------------------------------------------------------------------------

def test_order_status_with_an_id_answers_the_status_from_the_order_store(platform: Platform) -> None:
    status = seeded_status(platform, "PS-10023")
    reply = only_text(platform.new_customer().ask("where is my order PS-10023?"))
    assert "PS-10023" in reply
    assert status in reply.lower(), reply
    # Not this customer's order: status only, no items.
    assert "Chalo Runner" not in reply and "For your privacy" in reply


def test_order_status_without_an_id_asks_for_it_then_answers(platform: Platform) -> None:
    customer = platform.new_customer()
    assert ASKS_FOR_ORDER_ID in only_text(customer.ask("where is my order"))
    reply = only_text(customer.ask("PS-10004"))
    assert "PS-10004" in reply and seeded_status(platform, "PS-10004") in reply.lower(), reply


def test_stop_opts_out_with_an_event_and_a_confirmation(platform: Platform) -> None:
    customer = platform.new_customer()
    assert OPTED_OUT in only_text(customer.ask("STOP"))
    event = customer.wait_for_event(events.CONTACT_OPTED_OUT)
    assert event["data"] == {"wa_id": customer.wa_id, "source": "bot", "category": "marketing"}
    assert platform.redis().exists(keys.consent_optout(customer.wa_id))
    assert customer.events(events.CONTACT_OPTED_IN) == []


def test_asking_for_a_human_queues_the_chat_and_then_the_agents_get_the_messages(platform: Platform) -> None:
    customer = platform.new_customer("Ravi")
    customer.ask("my slippers broke after two days")
    ask_for_a_human(customer)

    owner = customer.ownership()
    assert owner["owner"] == "queued" and owner["reason"] == "asked", owner
    requested = customer.wait_for_event(events.HANDOFF_REQUESTED)
    assert requested["data"]["reason"] == "asked" and requested["data"]["name"] == "Ravi"
    assert any("slippers broke" in turn["text"] for turn in requested["data"]["context"]["turns"])

    # From now on the customer's messages go to the agents' inbox, never to the bot.
    replies_before = len(customer.replies())
    wamid = customer.says("hello? anyone there")
    inbox = customer.wait_for_event(events.MESSAGE_RECEIVED, stream=keys.HANDOFF_INBOX_STREAM)
    assert inbox["id"] == wamid and inbox["data"]["text"] == "hello? anyone there"
    time.sleep(QUIET_S)
    assert len(customer.replies()) == replies_before, [reply_text(m) for m in customer.replies()]
    assert not any(e.get("message_id") == wamid for e in platform.tracker(customer.wa_id)["events"])


def test_handoff_context_turns_follow_the_contract(platform: Platform) -> None:
    customer = platform.new_customer()
    customer.ask("hi")
    ask_for_a_human(customer)
    turns = customer.wait_for_event(events.HANDOFF_REQUESTED)["data"]["context"]["turns"]
    assert [turn.get("by") for turn in turns] == ["user", "bot", "user"], turns


def test_two_messages_the_bot_cannot_understand_lead_to_a_human(platform: Platform) -> None:
    customer = platform.new_customer()
    assert DID_NOT_GET_IT in only_text(customer.ask(GIBBERISH[0]))
    offer = customer.ask(GIBBERISH[1])
    assert OFFERS_HUMAN in only_text(offer) and reply_buttons(offer[0]) == ["Yes", "No"]
    assert customer.ownership() == {}, "offering is not handing over"

    ask = customer.ask(tap("Yes", "/affirm"))
    assert QUEUED in only_text(ask)
    assert customer.ownership()["owner"] == "queued"
    assert customer.wait_for_event(events.HANDOFF_REQUESTED)["data"]["reason"] == "fallback"


# -- bad input through the whole path -------------------------------------------------------

LONG_TEXT = ("Hello, I ordered running shoes from your website last week and I still have not "
             "received them, can you please tell me where is my order? ") * 40


@pytest.mark.parametrize("message, expected", [
    pytest.param({"type": "text", "text": {"body": ""}}, DID_NOT_GET_IT, id="empty-text"),
    pytest.param({"type": "text", "text": {"body": LONG_TEXT[:4096]}}, ASKS_FOR_ORDER_ID, id="4096-chars"),
    pytest.param({"type": "text", "text": {"body": "👟🔥😍🙏"}}, DID_NOT_GET_IT, id="emoji-only"),
    pytest.param({"type": "text", "text": {"body": "a" * 4096}}, DID_NOT_GET_IT, id="4096-a"),
    pytest.param({"type": "text", "text": {"body": "asdfgh jkl"}}, DID_NOT_GET_IT, id="keyboard-mash"),
    pytest.param({"type": "audio", "audio": {"voice": True}}, MEDIA, id="voice-note"),
    pytest.param({"type": "sticker", "sticker": {}}, MEDIA, id="sticker"),
    pytest.param({"type": "location", "location": {"latitude": 12.9716, "longitude": 77.5946,
                                                   "name": "MG Road"}}, LOCATION, id="location"),
])
def test_bad_input_gets_a_sensible_reply_and_breaks_nothing(
        platform: Platform, message: Dict[str, Any], expected: str) -> None:
    customer = platform.new_customer()
    wamid = customer.sends(message)
    customer.wait_for_turn(wamid)
    assert expected in only_text(customer.replies())
    received = customer.wait_for_event(events.MESSAGE_RECEIVED, predicate=lambda e: e["id"] == wamid)
    assert received["data"]["type"] == message["type"]
    if message["type"] == "text":
        assert received["data"]["text"] == message["text"]["body"]  # nothing cut on the way in
    # The conversation goes on (an order form the long text started may ask again after it).
    assert GREETING in reply_text(customer.ask("hi")[0])
    assert customer.events(events.MESSAGE_FAILED) == []


def test_a_typed_slash_command_reaches_the_bot_as_text(platform: Platform) -> None:
    customer = platform.new_customer()
    assert ASKS_FOR_ORDER_ID in only_text(customer.ask("where is my order"))
    wamid = customer.says("/restart")
    tracker = customer.wait_for_turn(wamid)
    turn = [e for e in tracker["events"] if e.get("message_id") == wamid]
    assert turn[0]["text"] == "restart"
    later = tracker["events"][tracker["events"].index(turn[0]):]
    assert not any(e.get("event") == "restart" for e in later), "a customer restarted the bot"


@pytest.mark.parametrize("command", ["/restart", "/opt_in"])
def test_a_typed_slash_command_does_not_opt_the_customer_in(platform: Platform, command: str) -> None:
    customer = platform.new_customer()
    assert OPTED_OUT in only_text(customer.ask("STOP"))
    customer.ask(command)
    assert customer.events(events.CONTACT_OPTED_IN) == []
    assert platform.redis().exists(keys.consent_optout(customer.wa_id))


def test_opting_in_takes_the_confirm_button_the_bot_sent(platform: Platform) -> None:
    customer = platform.new_customer()
    assert OPTED_OUT in only_text(customer.ask("STOP"))
    asked = customer.ask("START")
    assert ASKS_TO_OPT_IN in only_text(asked)
    assert reply_buttons(asked[0]) == ["Yes, send offers", "No thanks"]
    assert customer.events(events.CONTACT_OPTED_IN) == []
    assert platform.redis().exists(keys.consent_optout(customer.wa_id))

    # The customer taps "Yes, send offers": the button's id is the payload the bot set on it.
    button = asked[0]["payload"]["interactive"]["action"]["buttons"][0]["reply"]
    wamid = customer.sends(tap(button["title"], button["id"]))
    customer.wait_for_turn(wamid)
    assert OPTED_IN in reply_text(customer.replies()[-1])
    event = customer.wait_for_event(events.CONTACT_OPTED_IN)
    assert event["id"] == f"{customer.wa_id}:{wamid}"
    assert event["data"] == {"wa_id": customer.wa_id, "source": "bot", "category": "marketing"}
    assert not platform.redis().exists(keys.consent_optout(customer.wa_id))


# -- with the services ----------------------------------------------------------------------

@with_services
def test_the_handoff_service_turns_the_bots_request_into_a_ticket(platform: Platform) -> None:
    assert http("GET", f"{platform.handoff_url}/healthz")[0] == 200
    customer = platform.new_customer()
    ask_for_a_human(customer)
    deadline = time.monotonic() + 15
    while not customer.ownership().get("ticket_id") and time.monotonic() < deadline:
        time.sleep(0.1)
    owner = customer.ownership()
    assert owner["owner"] == "queued" and owner["ticket_id"], owner


@with_services
def test_broadcasts_serves_on_the_platforms_stores(platform: Platform) -> None:
    # The first request waits for the app's start-up (clients, indexes) to finish or fail.
    status, body = http("GET", f"{platform.broadcasts_url}/health", timeout=45)
    assert status == 200, body[:300]

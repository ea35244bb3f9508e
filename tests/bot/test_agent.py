"""The fast model in-process (rasa Agent) with the real action server and Redis: bad input
never crashes and gets a sensible reply; handoff flows end in the ownership record."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import pytest

from connectors import keys
from connectors.events import Event
from connectors.ownership import Owner, Ownership

pytestmark = [pytest.mark.bot, pytest.mark.slow]


@pytest.fixture
async def agent(fast_model, action_server):
    import skops.io  # noqa: F401  (loads the LogisticRegression model fast, see rasa-3.6-notes)
    import structlog
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return Agent.load(str(fast_model), action_endpoint=EndpointConfig(action_server))


async def say(agent: Any, sender: str, text: str, message_id: Optional[str] = None,
              **metadata: Any) -> List[Dict[str, Any]]:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    channel = CollectingOutputChannel()
    await agent.handle_message(UserMessage(text, channel, sender, metadata=metadata or None,
                                           message_id=message_id))
    return channel.messages


def texts(messages):
    return " | ".join(m.get("text") or "" for m in messages)


@pytest.mark.parametrize("text, expected", [
    ("[audio]", "only read text"),          # voice note placeholder from the connector
    ("[sticker]", "only read text"),
    ("[image]", "only read text"),
    ('/share_location{"latitude":12.97,"longitude":77.59}', "6-digit pincode"),
    ("[empty]", "didn't get that"),           # a message that was only slashes
    ("😀😀😀", "didn't get that"),
    ("a" * 4096, "didn't get that"),          # read as "aaa": no known word (UnknownWordsGuard)
    ("asdfgh jkl", "didn't get that"),        # keyboard mash (was affirm 0.53)
    ("hmm", "didn't get that"),               # (was greet 0.69)
    ("", "didn't get that"),
    ("   ", "didn't get that"),
])
async def test_bad_input_gets_a_sensible_reply(agent, redis, text, expected):
    sender = f"9197{abs(hash(text)) % 10**8:08d}"  # a fresh chat for each case
    messages = await say(agent, sender, text)
    assert messages and all(0 < len(m.get("text") or "") <= 4096 for m in messages)
    assert expected in texts(messages)
    # Nothing irreversible happened: no handoff, no consent change.
    assert await redis.exists(keys.ownership(sender), keys.consent_optout(sender)) == 0
    assert await redis.xlen(keys.EVENTS_STREAM) == 0


async def test_long_real_message_is_understood(agent):
    text = ("hello, I ordered chalo runners last week for my brother's birthday and it still has not "
            "arrived, the courier guy is not picking up the phone, where is my order? " * 20)[:4096]
    messages = await say(agent, "919700000002", text)
    assert "order ID" in texts(messages) or "Which order" in texts(messages)


async def test_asking_for_a_human_queues_the_chat(agent, redis):
    greeting = await say(agent, "919700000003", "hello", message_id="wamid.G1", name="Ravi")
    assert "Hi Ravi!" in texts(greeting)
    messages = await say(agent, "919700000003", "talk to a human please", message_id="wamid.H1")
    assert "Connecting you to our team" in texts(messages)
    owner = Ownership.from_hash(await redis.hgetall(keys.ownership("919700000003")))
    assert owner.owner is Owner.QUEUED
    [(_, fields)] = await redis.xrange(keys.EVENTS_STREAM)
    event = Event.from_fields(fields)
    assert event.id == "919700000003:wamid.H1" and event.data["name"] == "Ravi"
    first = event.data["context"]["turns"][0]
    assert first == {"by": "user", "text": "hello", "timestamp": first["timestamp"]}  # docs/contracts.md
    assert isinstance(first["timestamp"], float)


async def test_a_form_interrupted_by_a_human_request_hands_off(agent, redis):
    sender = "919700000007"
    asked = await say(agent, sender, "where is my order")
    assert "order ID" in texts(asked)
    messages = await say(agent, sender, "talk to a human please")
    assert "Connecting you to our team" in texts(messages)


async def test_two_fallbacks_offer_a_human_and_yes_queues_with_reason_fallback(agent, redis):
    sender = "919700000004"
    first = await say(agent, sender, "zxqv plmk")
    assert "didn't get that" in texts(first)
    second = await say(agent, sender, "qwrt zzzk")
    assert "connect you to someone" in texts(second)
    assert [b["title"] for b in second[-1]["buttons"]] == ["Yes", "No"]
    third = await say(agent, sender, "/affirm")
    assert "Connecting you to our team" in texts(third)
    assert await redis.hget(keys.ownership(sender), "reason") == b"fallback"


async def test_a_later_yes_does_not_hand_off(agent, redis):
    sender = "919700000005"
    await say(agent, sender, "zxqv plmk")
    await say(agent, sender, "qwrt zzzk")
    await say(agent, sender, "size chart")
    reply = await say(agent, sender, "yes")
    assert "Connecting" not in texts(reply)
    assert await redis.exists(keys.ownership(sender)) == 0


async def test_hand_back_resumes_cleanly(agent):
    sender = "919700000006"
    await say(agent, sender, "where is my order")          # the form asks for the id...
    back = await say(agent, sender, "/handoff_ended")       # ...then a human took over and handed back
    assert "back with the Paidal assistant" in texts(back)
    reply = await say(agent, sender, "thanks")
    assert "Happy to help" in texts(reply)


@pytest.mark.parametrize("first, second", [
    pytest.param("asdfgh jkl", "hmm", id="mash-then-filler"),
    pytest.param("a" * 4096, "kjhkjh sdfg", id="long-run-then-mash"),
])
async def test_two_keyboard_mashes_offer_a_human(agent, redis, first, second):
    sender = f"9196{abs(hash(first)) % 10**8:08d}"
    assert "didn't get that" in texts(await say(agent, sender, first))
    offer = await say(agent, sender, second)
    assert "connect you to someone" in texts(offer)
    assert [b["title"] for b in offer[-1]["buttons"]] == ["Yes", "No"]


async def consent_events(redis, kind):
    return [e for e in (Event.from_fields(f) for _, f in await redis.xrange(keys.EVENTS_STREAM))
            if e.type == kind]


async def test_only_the_confirm_button_opts_in(agent, redis):
    sender = "919700000008"
    assert "won't get offers" in texts(await say(agent, sender, "STOP"))
    # What a customer's typed "/restart" and "/opt_in" reach the bot as (connectors/mapping.py),
    # and START: none of them opts in.
    assert "start over" in texts(await say(agent, sender, "restart"))
    for text in ("opt_in", "START"):
        await say(agent, sender, text)
    asked = await say(agent, sender, "START")
    assert "Get offers and new arrivals" in texts(asked)
    assert [b["title"] for b in asked[-1]["buttons"]] == ["Yes, send offers", "No thanks"]
    assert await redis.exists(keys.consent_optout(sender)) == 1
    assert await consent_events(redis, "contact.opted_in") == []

    assert "No problem" in texts(await say(agent, sender, "/deny"))       # "No thanks"
    assert await redis.exists(keys.consent_optout(sender)) == 1

    confirm = asked[-1]["buttons"][0]["payload"]                           # "Yes, send offers"
    done = await say(agent, sender, confirm, message_id="wamid.OPTIN")
    assert "You're in" in texts(done)
    assert await redis.exists(keys.consent_optout(sender)) == 0
    [event] = await consent_events(redis, "contact.opted_in")
    assert event.id == f"{sender}:wamid.OPTIN"


async def test_start_over_ends_the_form_and_keeps_the_name(agent):
    sender = "919700000009"
    await say(agent, sender, "hello", name="Ravi")
    assert "order ID" in texts(await say(agent, sender, "where is my order"))
    assert "start over" in texts(await say(agent, sender, "restart"))
    reply = await say(agent, sender, "thanks")
    assert "Happy to help" in texts(reply) and "order ID" not in texts(reply)
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.active_loop_name is None
    assert tracker.get_slot("customer_name") == "Ravi"

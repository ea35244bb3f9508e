"""The fast model in-process (rasa Agent) with the real action server and Redis: bad input
never crashes and gets a sensible reply; handoff flows end in the ownership record."""
from __future__ import annotations

import logging
from typing import Any, Dict, List

import pytest

from connectors import keys
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


async def say(agent: Any, sender: str, text: str, **metadata: Any) -> List[Dict[str, Any]]:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    channel = CollectingOutputChannel()
    await agent.handle_message(UserMessage(text, channel, sender, metadata=metadata or None))
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
    ("a" * 4096, "didn't get that"),
    ("", ""),
])
async def test_bad_input_gets_a_sensible_reply(agent, text, expected):
    messages = await say(agent, "919700000001", text)
    assert all(len(m.get("text") or "") <= 4096 for m in messages)
    if expected:
        assert expected in texts(messages)


async def test_long_real_message_is_understood(agent):
    text = ("hello, I ordered chalo runners last week for my brother's birthday and it still has not "
            "arrived, the courier guy is not picking up the phone, where is my order? " * 20)[:4096]
    messages = await say(agent, "919700000002", text)
    assert "order ID" in texts(messages) or "Which order" in texts(messages)


async def test_asking_for_a_human_queues_the_chat(agent, redis):
    messages = await say(agent, "919700000003", "talk to a human please", name="Ravi")
    assert "Connecting you to our team" in texts(messages)
    owner = Ownership.from_hash(await redis.hgetall(keys.ownership("919700000003")))
    assert owner.owner is Owner.QUEUED


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

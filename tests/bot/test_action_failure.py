"""Issue #7: a turn that fails silently because an action failed (the action server is down) gets
the channel's apology; a turn that says nothing for another reason, or still replied, does not;
and the conversation carries on once the action server is back.

The fast model in-process (rasa Agent) with the real action server, whose URL the test points
at a closed port and back; the channel's ``handle_turn`` with ``WhatsAppOutput`` over a fake
sender (the send path itself is tested in tests/connectors).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List

import pytest

pytestmark = [pytest.mark.bot, pytest.mark.slow]

DEAD = "http://127.0.0.1:9/webhook"


class FakeSender:
    """Records what the channel sends, per recipient."""

    def __init__(self) -> None:
        self.sent: List[tuple] = []

    async def send(self, recipient: str, body: Dict[str, Any], **_: Any) -> Any:
        from connectors.sender import SendResult

        self.sent.append((recipient, body))
        return SendResult(wamid=f"wamid.OUT{len(self.sent)}", attempts=1, payload=body)


class Bot:
    def __init__(self, agent: Any, endpoint: Any, live_url: str) -> None:
        from connectors.rasa_channel import NameBook, WhatsAppOutput, WhatsAppSettings

        self.agent, self.endpoint, self.live_url = agent, endpoint, live_url
        self.sender = FakeSender()
        settings = WhatsAppSettings.from_credentials({
            "verify_token": "v", "app_secret": "s", "access_token": "t", "phone_number_id": "1",
            "redis_url": "redis://127.0.0.1:9/0"})
        self.output = WhatsAppOutput(self.sender, settings, NameBook())  # type: ignore[arg-type]

    def action_server(self, up: bool) -> None:
        self.endpoint.url = self.live_url if up else DEAD

    async def say(self, wa_id: str, text: str) -> "tuple[bool, List[str]]":
        """(apologised, texts the customer received) for one turn."""
        from rasa.core.channels.channel import UserMessage

        from connectors.rasa_channel import handle_turn

        before = len(self.sender.sent)
        apologised = await handle_turn(self.agent.handle_message, UserMessage(text, self.output, wa_id))
        return apologised, [_text(body) for _, body in self.sender.sent[before:]]


def _text(body: Dict[str, Any]) -> str:
    return body["text"]["body"] if body["type"] == "text" else body["interactive"]["body"]["text"]


@pytest.fixture
async def bot(fast_model, action_server) -> Bot:
    import skops.io  # noqa: F401  (loads the LogisticRegression model fast, see rasa-3.6-notes)
    import structlog
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    endpoint = EndpointConfig(action_server)
    return Bot(Agent.load(str(fast_model), action_endpoint=endpoint), endpoint, action_server)


async def test_a_failed_action_gets_the_apology_and_the_chat_recovers(bot):
    from connectors.rasa_channel import ACTION_FAILURE_REPLY

    customer = "919700000101"
    assert (await bot.say(customer, "hi"))[0] is False

    bot.action_server(up=False)
    # The order form completes with the id; action_order_status cannot run: nothing else is said.
    apologised, texts = await bot.say(customer, "where is my order PS-20001")
    assert apologised and texts == [ACTION_FAILURE_REPLY]
    # A turn with no custom action is answered as usual, without an apology.
    apologised, texts = await bot.say(customer, "thanks")
    assert not apologised and len(texts) == 1 and "Happy to help" in texts[0]

    bot.action_server(up=True)
    # The same question is answered for real (MongoDB is unreachable in this fixture), once.
    apologised, texts = await bot.say(customer, "where is my order PS-20002")
    assert not apologised and len(texts) == 1 and "can't check orders right now" in texts[0]
    tracker = await bot.agent.tracker_store.retrieve(customer)
    assert tracker.active_loop_name is None and tracker.get_slot("order_id") is None
    assert not tracker.is_paused() and tracker.latest_action_name == "action_listen"


async def test_a_form_question_lost_to_the_outage_continues_after_it(bot):
    from connectors.rasa_channel import ACTION_FAILURE_REPLY

    customer = "919700000102"
    await bot.say(customer, "hi")
    bot.action_server(up=False)
    # The form starts, but its question (action_ask_order_id) is a custom action.
    assert await bot.say(customer, "where is my order") == (True, [ACTION_FAILURE_REPLY])
    bot.action_server(up=True)
    apologised, texts = await bot.say(customer, "PS-20003")
    assert not apologised and len(texts) == 1 and "can't check orders right now" in texts[0]


async def test_silence_without_a_failed_action_gets_no_apology(bot):
    from rasa.shared.core.events import ConversationPaused

    customer = "919700000103"
    await bot.say(customer, "hi")
    tracker = await bot.agent.tracker_store.retrieve(customer)
    tracker.update(ConversationPaused())
    await bot.agent.tracker_store.save(tracker)
    bot.action_server(up=False)
    # A paused conversation predicts nothing: no reply, and no action failed.
    assert await bot.say(customer, "where is my order PS-20004") == (False, [])


async def test_a_failure_that_rasa_still_answered_gets_no_apology(bot):
    customer = "919700000104"
    await bot.say(customer, "hi")
    bot.action_server(up=False)
    # action_handle_fallback fails; Rasa's own fallback (utter_default) still answers.
    apologised, texts = await bot.say(customer, "zxqv plmk")
    assert not apologised and len(texts) == 1 and "didn't get that" in texts[0]

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


CONFIRM = '/opt_in{"consent": "confirmed"}'  # the "Yes, send offers" button (bot/domain.yml)
CONFIRMED = [{"entity": "consent", "value": "confirmed"}]


def test_the_question_offers_the_confirm_button(domain_dict):
    [ask] = domain_dict["responses"]["utter_ask_opt_in"]
    assert [(b["title"], b["payload"]) for b in ask["buttons"]] == [
        ("Yes, send offers", CONFIRM), ("No thanks", "/deny")]
    assert all(len(b["title"]) <= 20 for b in ask["buttons"])


async def test_the_confirm_button_deletes_key_emits_event_and_confirms(redis, run_action):
    await redis.set(keys.consent_optout(WA), "1 bot")
    result = await run_action("action_opt_in", tracker(WA, [
        user("START", "opt_in", message_id="wamid.2"),
        user(CONFIRM, "opt_in", entities=CONFIRMED, message_id="wamid.3")]))

    assert await redis.exists(keys.consent_optout(WA)) == 0
    [event] = await events_of(redis, "contact.opted_in")
    assert event.id == f"{WA}:wamid.3"
    assert event.data == {"wa_id": WA, "source": "bot", "category": "marketing"}
    assert "You're in" in result["responses"][0]["text"]


@pytest.mark.parametrize("text, entities", [
    pytest.param("START", [], id="typed-start"),
    pytest.param("opt_in", [], id="typed-slash-command"),          # "/opt_in" after the connector
    pytest.param('opt_in{"consent": "confirmed"}', CONFIRMED, id="typed-payload-without-slash"),
    pytest.param("/opt_in", [], id="command-without-consent"),
])
async def test_anything_but_the_confirm_button_only_asks(redis, run_action, text, entities):
    """Even if the NLU ever read a message as opt_in, only the bot's own button opts in."""
    await redis.set(keys.consent_optout(WA), "1 bot")
    result = await run_action("action_opt_in", tracker(WA, [user(text, "opt_in", entities=entities)]))

    assert await redis.exists(keys.consent_optout(WA)) == 1
    assert await events_of(redis, "contact.opted_in") == []
    assert [r.get("response") for r in result["responses"]] == ["utter_ask_opt_in"]
    assert result["events"] == []


async def test_redis_down_never_claims_success(run_action):
    clients.use(settings=Settings(redis_url="redis://127.0.0.1:9/0", io_timeout_s=0.3))
    try:
        result = await run_action("action_opt_out", tracker(WA, [user("stop", "opt_out")]))
    finally:
        await clients.reset()
    [reply] = result["responses"]
    assert "couldn't update your preferences" in reply["text"]
    assert "Done" not in reply["text"]


async def test_a_connection_the_server_dropped_still_records_the_stop(redis, redis_url, run_action):
    """After a Redis restart every pooled connection is stale, and redis-py 4.6 (this env) does not
    retry a MULTI/EXEC on one: the STOP must still be stored, once, and confirmed."""
    from redis import asyncio as aioredis

    from connectors.redis_options import restart_tolerant

    actions_client = aioredis.from_url(redis_url, **restart_tolerant(0.5))
    clients.use(settings=Settings(redis_url=redis_url, io_timeout_s=0.5), redis_client=actions_client)
    await actions_client.ping()  # one pooled connection ...
    await redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")  # ... now stale

    result = await run_action("action_opt_out", tracker(WA, [user("STOP", "opt_out", message_id="wamid.9")]))

    assert "won't get offers" in result["responses"][0]["text"]
    assert await redis.exists(keys.consent_optout(WA)) == 1
    [event] = await events_of(redis, "contact.opted_out")
    assert event.id == f"{WA}:wamid.9"


async def test_a_failed_change_is_logged_with_the_messages_trace_id(run_action, caplog):
    """The action server's log line joins the connector's: same trace id, derived from the wamid
    (bot/actions/tracing.py), and it names what failed."""
    import logging

    from observability import trace

    seen = []

    class _Trace(logging.Filter):
        def filter(self, record):
            seen.append((record.getMessage(), trace.current()))
            return True

    clients.use(settings=Settings(redis_url="redis://127.0.0.1:9/0", io_timeout_s=0.3))
    handler_filter = _Trace()
    caplog.handler.addFilter(handler_filter)
    try:
        await run_action("action_opt_out", tracker(WA, [user("stop", "opt_out", message_id="wamid.77")]))
    finally:
        caplog.handler.removeFilter(handler_filter)
        await clients.reset()
    [(message, trace_id)] = [(m, t) for m, t in seen if "not stored" in m]
    assert message.startswith("action_opt_out not stored: ConnectionError") and WA not in message
    assert trace_id == trace.for_message("wamid.77")

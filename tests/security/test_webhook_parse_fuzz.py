"""Fuzzing the webhook parser and what the consumer derives from it (both environments).

`connectors.webhook.parse` promises: a body that is not a JSON object raises
`MalformedWebhook`; anything else parses (odd fields become empty values, new types UNKNOWN).
The mapping to bot inputs and internal events must never raise either, and every event must
serialise to what Redis stores (UTF-8 text). Hypothesis drives it where installed (services
env); a seeded generator does in the bot env (no hypothesis there)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from connectors import mapping, webhook

from .corpus import random_bodies

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # bot env
    given = None


def exercise(body: Any) -> None:
    """Parse `body` and derive everything the consumer would; only MalformedWebhook may escape."""
    try:
        notification = webhook.parse(body)
    except webhook.MalformedWebhook:
        if isinstance(body, (bytes, str)):
            mapping.malformed_event(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass"))
        return
    events = [event for _, event, _ in mapping.direct_events(notification)]
    for msg in notification.messages:
        events.append(mapping.received_event(msg))
        mapping.bot_input(msg)
    events.extend(mapping.echo_event(e) for e in notification.echoes)
    for event in events:
        fields = event.to_fields()
        assert set(fields) == {"type", "id", "data", "ts"}
        for value in fields.values():
            value.encode("utf-8")  # what Redis stores: a lone surrogate here stalls the pipeline
        json.loads(fields["data"])


def test_seeded_random_bodies_never_raise_anything_but_malformed() -> None:
    for body in random_bodies(seed=20240601, count=1500):
        exercise(body)


@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b"\"x\"", b"1", b"{", b"\xff\xfe", b"[" * 50_000, b"{\"a\":" + b"[" * 5000 + b"]" * 5000 + b"}",
    b"{\"entry\":[{\"time\":1e400,\"changes\":[{\"field\":\"x\",\"value\":{}}]}]}",
    b"{\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"type\":\"location\","
    b"\"location\":{\"latitude\":1" + b"0" * 400 + b",\"longitude\":NaN}}]}}]}]}",
    b"{\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"from\":\"\\ud800\","
    b"\"id\":\"w\",\"type\":\"text\",\"text\":{\"body\":\"\\udfff\"}}]}}]}]}",
    b"{\"entry\":{\"changes\":1}}", b"{\"entry\":[null,1,\"x\",{\"changes\":[null,{\"value\":[]}]}]}",
])
def test_known_nasty_bodies(body: bytes) -> None:
    exercise(body)


def test_non_finite_and_huge_numbers_become_zero() -> None:
    body = (b"{\"entry\":[{\"time\":1e400,\"changes\":[{\"field\":\"messages\",\"value\":{\"messages\":[{\"from\":\"1\","
            b"\"id\":\"w\",\"timestamp\":1e999,\"type\":\"location\",\"location\":{\"latitude\":1e999,"
            b"\"longitude\":" + b"9" * 400 + b"}}]}}]}]}")
    msg = webhook.parse(body).messages[0]
    assert msg.timestamp == 0 and msg.location is not None
    assert (msg.location.latitude, msg.location.longitude) == (0.0, 0.0)
    json.loads(mapping.received_event(msg).to_fields()["data"])  # strict JSON: no Infinity/NaN leak


if given is not None:
    json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                          st.text(max_size=20), st.sampled_from(["text", "image", "location", "button", "interactive",
                                                                 "messages", "statuses", "user_preferences"]))
    json_any = st.recursive(json_leaf, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
            ["entry", "changes", "field", "value", "messages", "statuses", "type", "text", "body", "from", "id",
             "timestamp", "location", "latitude", "interactive", "button_reply", "contacts", "metadata",
             "errors", "code", "user_preferences", "message_echoes", "pricing"]) | st.text(max_size=5),
            inner, max_size=5)), max_leaves=30)
    FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

    @FUZZ
    @given(doc=json_any)
    def test_hypothesis_json_structures(doc: Any) -> None:
        exercise(doc if isinstance(doc, dict) else json.dumps(doc).encode())
        exercise(json.dumps(doc).encode())  # the same as raw bytes

    @FUZZ
    @given(doc=json_any)
    def test_hypothesis_webhook_shaped(doc: Any) -> None:
        body = {"entry": [{"id": "1", "time": 1, "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "1"}, "contacts": [{"wa_id": "1", "profile": {"name": doc}}],
            "messages": [{"from": "1", "id": "w", "type": "text", "text": {"body": doc}}, doc],
            "statuses": [{"id": "w", "status": doc, "errors": [doc]}, doc]}}]}]}
        exercise(json.dumps(body).encode())

    @FUZZ
    @given(raw=st.binary(max_size=300))
    def test_hypothesis_raw_bytes(raw: bytes) -> None:
        exercise(raw)
else:
    def test_hypothesis_suite_runs_in_the_services_env() -> None:
        pytest.skip("hypothesis is not installed in this env; the seeded generator above covers it")

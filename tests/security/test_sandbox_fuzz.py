"""The sandbox's send endpoint and customer endpoint under random payloads: never a 5xx, errors
in Meta's shape."""
from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("argon2")  # services env only
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .corpus import XSS  # noqa: E402

leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                 st.text(max_size=20), st.sampled_from(XSS + ["15551234567", "en", "hello_world", "order_update",
                                                              "spring_sale", "text", "template", "image"]))
anything = st.recursive(leaf, lambda i: st.lists(i, max_size=3) | st.dictionaries(st.text(max_size=10), i, max_size=4),
                        max_leaves=15)
KINDS = ["text", "image", "video", "audio", "document", "sticker", "location", "contacts", "reaction", "interactive",
         "template", "zzz"]
payloads = st.one_of(anything, st.fixed_dictionaries(
    {"messaging_product": st.sampled_from(["whatsapp", "x"]), "to": st.one_of(st.just("15551234567"), leaf),
     "type": st.sampled_from(KINDS)},
    optional={k: anything for k in KINDS + ["context", "recipient_type", "status", "message_id", "biz_opaque_callback_data"]}))
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def test_send_endpoint_random_payloads(sandbox: Any) -> None:
    @FUZZ
    @given(payload=payloads)
    def run(payload: Any) -> None:
        status, body = sandbox.graph("POST", f"/{sandbox.phone_number_id}/messages", raw=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        assert status < 500 or _chaos(body), (payload, status, body)
        if status >= 400:
            assert isinstance(body, dict) and isinstance(body["error"]["code"], int), body

    run()


def test_send_endpoint_raw_garbage(sandbox: Any) -> None:
    for raw in (b"", b"{", b"[]", b"null", b"\xff\xfe", b"{\"type\":\"text\",\"text\":{\"body\":\"\\ud800\"}}",
                b"[" * 20_000, b"{\"to\":" + b"9" * 5000 + b"}"):
        status, body = sandbox.graph("POST", f"/{sandbox.phone_number_id}/messages", raw=raw,
                                     headers={"Content-Type": "application/json"})
        assert 400 <= status < 500, (raw[:40], status, body)


def test_customer_messages_random_payloads(sandbox: Any) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=payloads)
    def run(payload: Any) -> None:
        status, body = sandbox.request("POST", "/_sandbox/customers/15551234567/messages", payload)
        assert status < 500, (payload, status, body)

    run()


def _chaos(body: Any) -> bool:  # chaos is off in the suite's sandbox; a 5xx is never expected
    return False

from __future__ import annotations

import json

from connectors.signature import SignatureCheck, check_signature, sign, verify_challenge

from .inbound_support import SECRET, fixture_bytes


def test_valid_signature_over_raw_bytes_with_escaped_unicode() -> None:
    body = fixture_bytes("text_unicode")
    assert b"\\u00e4" in body  # Meta's lowercase escapes stay as they are on the wire
    assert check_signature(SECRET, body, sign(SECRET, body)) is SignatureCheck.VALID


def test_signature_of_reserialised_body_does_not_match() -> None:
    body = fixture_bytes("text_unicode")
    other = json.dumps(json.loads(body), ensure_ascii=False).encode()  # what a decoding framework would hash
    assert check_signature(SECRET, body, sign(SECRET, other)) is SignatureCheck.INVALID


def test_missing_and_wrong_signatures() -> None:
    body = b'{"a":1}'
    assert check_signature(SECRET, body, None) is SignatureCheck.MISSING
    assert check_signature(SECRET, body, "") is SignatureCheck.MISSING
    assert check_signature(SECRET, body, sign("other", body)) is SignatureCheck.INVALID
    assert check_signature(SECRET, body, sign(SECRET, body)[len("sha256="):]) is SignatureCheck.INVALID
    assert check_signature(SECRET, body, sign(SECRET, body).upper().replace("SHA256", "sha256")) is SignatureCheck.VALID
    assert (SignatureCheck.MISSING.value, SignatureCheck.INVALID.value) == (401, 403)


def test_handshake() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_challenge(query, "tok") == "1158201444"
    assert verify_challenge({**query, "hub.verify_token": "nope"}, "tok") is None
    assert verify_challenge({**query, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_challenge({"hub_mode": "subscribe", "hub_verify_token": "tok", "hub_challenge": "7"}, "tok") == "7"
    assert verify_challenge({**query, "hub.verify_token": ""}, "") is None

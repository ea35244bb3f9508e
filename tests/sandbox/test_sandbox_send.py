"""The send endpoint: every shape Parley uses, Meta's success/error shapes, auth, garbage input."""
from __future__ import annotations

import json
from typing import Any, Dict

import pytest

CUSTOMER = "15551230001"


def _send(kind: str, body: Any, to: str = "+1 555-123-0001", **extra: Any) -> Dict[str, Any]:
    payload: Dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind}
    if kind == "contacts":
        payload["contacts"] = body
    else:
        payload[kind] = body
    payload.update(extra)
    return payload


def _assert_meta_error(status: int, body: Any, http_status: int, code: int) -> None:
    assert status == http_status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, error
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert isinstance(error["error_data"]["details"], str) and error["error_data"]["details"]
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    if code != 190:
        assert error["message"].startswith(f"(#{code}) ") or code == 100, error["message"]


VALID_SENDS = [
    ("text", {"body": "Hi! See https://example.com", "preview_url": True}),
    ("image", {"link": "https://example.com/a.jpg", "caption": "a cat"}),
    ("video", {"link": "https://example.com/a.mp4", "caption": "clip"}),
    ("audio", {"link": "https://example.com/a.ogg"}),
    ("document", {"link": "https://example.com/x.pdf", "filename": "x.pdf", "caption": "invoice"}),
    ("sticker", {"link": "https://example.com/s.webp"}),
    ("location", {"latitude": 37.46, "longitude": -122.21, "name": "HQ", "address": "1 Hacker Way"}),
    ("contacts", [{"name": {"formatted_name": "Chandler Bing", "first_name": "Chandler"},
                   "phones": [{"phone": "+1 555-555-5555", "type": "CELL"}]}]),
    ("interactive", {"type": "button", "header": {"type": "text", "text": "Workshop"}, "body": {"text": "Pick one"},
                     "footer": {"text": "footer"}, "action": {"buttons": [
                         {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                         {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}),
    ("interactive", {"type": "list", "body": {"text": "Shipping?"}, "action": {"button": "Options", "sections": [
        {"title": "Fast", "rows": [{"id": "express", "title": "Express", "description": "Next day"}]},
        {"title": "Slow", "rows": [{"id": "ground", "title": "Ground"}]}]}}),
    ("interactive", {"type": "cta_url", "body": {"text": "See it"},
                     "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://example.com"}}}),
]


@pytest.mark.parametrize("kind,body", VALID_SENDS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(VALID_SENDS)])
def test_every_send_shape_is_accepted_in_metas_success_shape(sandbox: Any, kind: str, body: Any) -> None:
    sandbox.customer_sends(CUSTOMER, {"type": "text", "text": {"body": "open the window"}})
    status, answer = sandbox.send(_send(kind, body))
    assert status == 200, answer
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "+1 555-123-0001", "wa_id": CUSTOMER}]
    (message,) = answer["messages"]
    assert message["id"].startswith("wamid.") and "message_status" not in message
    (stored,) = sandbox.outbox(to=CUSTOMER)
    assert stored["wamid"] == message["id"] and stored["type"] == kind and stored["to"] == CUSTOMER


def test_template_send_has_message_status_and_reaction_is_accepted(sandbox: Any) -> None:
    status, answer = sandbox.send(_send("template", {"name": "order_update", "language": {"code": "en"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-1"},
                                        {"type": "text", "text": "shipped"}]}]}))
    assert status == 200, answer
    assert answer["messages"][0]["message_status"] == "accepted"
    wamid = sandbox.customer_sends(CUSTOMER, {"type": "text", "text": {"body": "hi"}})
    status, answer = sandbox.send(_send("reaction", {"message_id": wamid, "emoji": "👍"}))
    assert status == 200 and "message_status" not in answer["messages"][0]


def test_media_by_uploaded_id(sandbox: Any) -> None:
    boundary = "XyZ"
    form = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/png\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
        f"Content-Type: image/png\r\n\r\nPNGDATA\r\n--{boundary}--\r\n"
    ).encode()
    status, body = sandbox.graph("POST", f"/{sandbox.phone_number_id}/media", raw=form,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, body
    media_id = body["id"]
    status, info = sandbox.graph("GET", f"/{media_id}")
    assert status == 200 and info["mime_type"] == "image/png" and info["file_size"] == 7
    sandbox.customer_sends(CUSTOMER, {"type": "text", "text": {"body": "hi"}})
    status, answer = sandbox.send(_send("image", {"id": media_id}))
    assert status == 200, answer


@pytest.mark.parametrize("extra", [{}, {"typing_indicator": {"type": "text"}}], ids=["read", "typing"])
def test_mark_as_read_and_typing_indicator(sandbox: Any, extra: Dict[str, Any]) -> None:
    wamid = sandbox.customer_sends(CUSTOMER, {"type": "text", "text": {"body": "hello"}})
    status, answer = sandbox.send({"messaging_product": "whatsapp", "status": "read", "message_id": wamid, **extra})
    assert (status, answer) == (200, {"success": True})
    (entry,) = sandbox.conversation(CUSTOMER)["messages"]
    assert entry["read"] is True and entry["typing"] is bool(extra)
    assert sandbox.outbox() == []


def test_bad_or_missing_token_is_190_with_401(sandbox: Any) -> None:
    payload = _send("text", {"body": "hi"})
    for token in ("wrong", ""):
        status, body = sandbox.send(payload, token=token)
        _assert_meta_error(status, body, 401, 190)
    status, body = sandbox.request("POST", f"/{sandbox.api_version}/{sandbox.phone_number_id}/messages", payload)
    _assert_meta_error(status, body, 401, 190)
    assert sandbox.outbox() == []


def test_unknown_phone_number_id_and_path(sandbox: Any) -> None:
    status, body = sandbox.graph("POST", "/999999/messages", _send("text", {"body": "hi"}))
    _assert_meta_error(status, body, 400, 100)
    assert body["error"]["error_subcode"] == 33
    status, body = sandbox.request("POST", "/v23.0/a/b/c/d", {})
    _assert_meta_error(status, body, 404 if status == 404 else 400, 100)


LONG = "x" * 5000
BUTTON = {"type": "reply", "reply": {"id": "a", "title": "A"}}


def _buttons(*buttons: Dict[str, Any], body: str = "pick") -> Dict[str, Any]:
    return {"type": "button", "body": {"text": body}, "action": {"buttons": list(buttons)}}


def _list(sections: Any, button: str = "Open", body: str = "pick") -> Dict[str, Any]:
    return {"type": "list", "body": {"text": body}, "action": {"button": button, "sections": sections}}


def _rows(n: int, **row: Any) -> list:
    return [{"id": f"r{i}", "title": f"Row {i}", **row} for i in range(n)]


LIMITS = [
    ("text 4096", "text", {"body": "x" * 4097}),
    ("text empty", "text", {"body": ""}),
    ("buttons > 3", "interactive", _buttons(*[{"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(4)])),
    ("button title > 20", "interactive", _buttons({"type": "reply", "reply": {"id": "a", "title": "t" * 21}})),
    ("button titles unique", "interactive", _buttons(BUTTON, {"type": "reply", "reply": {"id": "b", "title": "A"}})),
    ("button id > 256", "interactive", _buttons({"type": "reply", "reply": {"id": "i" * 257, "title": "A"}})),
    ("button body > 1024", "interactive", _buttons(BUTTON, body="b" * 1025)),
    ("button footer > 60", "interactive", {**_buttons(BUTTON), "footer": {"text": "f" * 61}}),
    ("button header > 60", "interactive", {**_buttons(BUTTON), "header": {"type": "text", "text": "h" * 61}}),
    ("no buttons", "interactive", _buttons()),
    ("list rows > 10 total", "interactive", _list([{"title": "a", "rows": _rows(6)}, {"title": "b", "rows": _rows(5)}])),
    ("list sections > 10", "interactive", _list([{"title": f"s{i}", "rows": _rows(1)} for i in range(11)])),
    ("list row title > 24", "interactive", _list([{"rows": [{"id": "a", "title": "t" * 25}]}])),
    ("list row id > 200", "interactive", _list([{"rows": [{"id": "i" * 201, "title": "t"}]}])),
    ("list row description > 72", "interactive", _list([{"rows": _rows(1, description="d" * 73)}])),
    ("list section title > 24", "interactive", _list([{"title": "s" * 25, "rows": _rows(1)}])),
    ("list button > 20", "interactive", _list([{"rows": _rows(1)}], button="b" * 21)),
    ("list body > 4096", "interactive", _list([{"rows": _rows(1)}], body="b" * 4097)),
    ("list header not text", "interactive", {**_list([{"rows": _rows(1)}]), "header": {"type": "image", "image": {"link": "https://e.com/a.jpg"}}}),
    ("caption > 1024", "image", {"link": "https://example.com/a.jpg", "caption": "c" * 1025}),
    ("media id and link", "image", {"id": "1", "link": "https://example.com/a.jpg"}),
    ("media neither", "image", {}),
    ("media bad link", "document", {"link": "ftp://nope"}),
    ("audio caption", "audio", {"link": "https://example.com/a.ogg", "caption": "no"}),
    ("latitude range", "location", {"latitude": 91, "longitude": 0}),
    ("contacts empty", "contacts", []),
    ("contact without name", "contacts", [{"phones": []}]),
    ("template name missing", "template", {"language": {"code": "en"}}),
    ("template language missing", "template", {"name": "hello_world"}),
    ("reaction without message id", "reaction", {"emoji": "👍"}),
]


@pytest.mark.parametrize("name,kind,body", LIMITS, ids=[limit[0] for limit in LIMITS])
def test_limits_are_rejected_with_meta_codes(sandbox: Any, name: str, kind: str, body: Any) -> None:
    sandbox.customer_sends(CUSTOMER, {"type": "text", "text": {"body": "open"}})
    status, answer = sandbox.send(_send(kind, body))
    assert status == 400, (name, answer)
    assert answer["error"]["code"] in (100, 131008, 131009), (name, answer)
    _assert_meta_error(status, answer, 400, answer["error"]["code"])
    assert sandbox.outbox() == []


def test_callback_data_limit_and_bad_recipient(sandbox: Any) -> None:
    status, answer = sandbox.send(_send("text", {"body": "hi"}, biz_opaque_callback_data="x" * 513))
    _assert_meta_error(status, answer, 400, 100)
    status, answer = sandbox.send(_send("text", {"body": "hi"}, to="not a number"))
    _assert_meta_error(status, answer, 400, 131009)
    status, answer = sandbox.send(_send("text", {"body": "hi"}, to=sandbox.display_phone_number))
    _assert_meta_error(status, answer, 400, 131021)


GARBAGE_RAW = [
    b"", b"not json", b"{", b"\xff\xfe\x00", b"[" * 100000, b"null", b"42", b"\"text\"", b"[1,2,3]", b"[]",
    b"{\"messaging_product\": \"whatsapp\", \"to\": \"1\\u0000\"}",
    ("{\"a\":" * 2000 + "1" + "}" * 2000).encode(),
]
GARBAGE_JSON: list = [
    {}, {"messaging_product": "telegram"}, {"messaging_product": 5}, {"messaging_product": "whatsapp"},
    {"messaging_product": "whatsapp", "to": "15551230001"},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "carrier_pigeon"},
    {"messaging_product": "whatsapp", "to": 15551230001, "type": "text", "text": {"body": "hi"}},
    {"messaging_product": "whatsapp", "to": ["1"], "type": "text", "text": {"body": "hi"}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "text", "text": "hi"},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "text", "text": {"body": 5}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "text", "text": {"body": None}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "text", "text": {"body": "x" * 1_000_000}},
    {"messaging_product": "whatsapp", "to": "1" * 10000, "type": "text", "text": {"body": "hi"}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": ["text"], "text": {"body": "hi"}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "interactive", "interactive": []},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "interactive", "interactive": {"type": "button"}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "interactive",
     "interactive": {"type": "button", "body": {"text": "x"}, "action": {"buttons": [None, 1, "x"]}}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "interactive",
     "interactive": {"type": "list", "body": {"text": "x"}, "action": {"button": "b", "sections": [{"rows": "x"}]}}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "template", "template": {"name": 5}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "template",
     "template": {"name": "order_update", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [5]}]}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "template",
     "template": {"name": "order_update", "language": {"code": "en"}, "components": [{"type": "button", "index": "x"}]}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "template",
     "template": {"name": "order_update", "language": "en"}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "location", "location": {"latitude": "north"}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "location", "location": {"latitude": True, "longitude": 1}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "reaction", "reaction": {"message_id": {}}},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "text", "text": {"body": "hi"}, "context": "x"},
    {"messaging_product": "whatsapp", "to": "15551230001", "type": "text", "text": {"body": "hi"}, "recipient_type": "group"},
    {"messaging_product": "whatsapp", "status": "read"},
    {"messaging_product": "whatsapp", "status": "read", "message_id": "nope"},
    {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x", "typing_indicator": {"type": "dance"}},
    {"messaging_product": "whatsapp", "status": "unread", "message_id": "wamid.x"},
]


def test_garbage_bodies_get_meta_shaped_4xx_never_500(sandbox: Any) -> None:
    path = f"/{sandbox.phone_number_id}/messages"
    cases = [("raw", raw) for raw in GARBAGE_RAW] + [("json", json.dumps(body).encode()) for body in GARBAGE_JSON]
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        for label, raw in cases:
            status, body = sandbox.graph("POST", path, raw=raw, headers={"Content-Type": content_type})
            assert 400 <= status < 500, (label, raw[:200], status, body)
            assert isinstance(body, dict) and isinstance(body.get("error"), dict), (raw[:200], body)
            assert isinstance(body["error"].get("code"), int) and body["error"].get("type") == "OAuthException"
    assert sandbox.outbox() == []
    status, _ = sandbox.request("GET", "/_sandbox/health")
    assert status == 200


def test_garbage_on_admin_and_template_endpoints_is_4xx(sandbox: Any) -> None:
    for raw in (b"", b"nope", b"[]", b"{\"type\": 5}", b"{\"type\": \"text\"}", b"{\"type\": \"image\", \"image\": {\"id\": \"404\"}}"):
        status, body = sandbox.request("POST", "/_sandbox/customers/15551230001/messages", raw=raw)
        assert 400 <= status < 500 and "error" in body, (raw, status, body)
    for raw in (b"[]", b"{\"throughput_mps\": \"fast\"}", b"{\"nope\": 1}", b"{\"chaos\": {\"duplicate\": 2}}"):
        status, body = sandbox.request("PATCH", "/_sandbox/config", raw=raw)
        assert status == 400 and "error" in body, (raw, status, body)
    status, body = sandbox.request("POST", "/_sandbox/customers/abc/messages", {"type": "text", "text": {"body": "x"}})
    assert status == 400, body
    for raw in (b"", b"[]", b"{\"name\": \"BAD NAME\"}", b"{\"name\": \"ok\", \"language\": \"en\", \"category\": \"X\"}"):
        status, body = sandbox.graph("POST", f"/{sandbox.waba_id}/message_templates", raw=raw)
        assert status == 400 and body["error"]["code"] == 100, (raw, status, body)

"""Signed webhooks: inbound messages, statuses and failures, retries, chaos, preferences, media."""
from __future__ import annotations

import json
import socket
import time
from typing import Any, Dict, List

import pytest

from tests.plugins.sandbox import http, signature_ok

ANA = "15557770001"


def _text(to: str = ANA, body: str = "hello", **extra: Any) -> Dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}, **extra}


def _template(name: str, language: str, to: str = ANA, components: Any = None) -> Dict[str, Any]:
    template: Dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = components
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": template}


SPRING = [{"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"},
                                          {"type": "text", "parameter_name": "discount", "text": "20%"}]}]


def _statuses(receiver: Any, wamid: str) -> List[Dict[str, Any]]:
    return [status for status in receiver.statuses() if status["id"] == wamid]


def _wait_statuses(receiver: Any, wamid: str, n: int, timeout: float = 5.0) -> List[Dict[str, Any]]:
    receiver.wait_until(lambda r: len(_statuses(r, wamid)) >= n, timeout)
    return _statuses(receiver, wamid)


@pytest.fixture
def hooked(sandbox: Any, webhook_receiver: Any) -> Any:
    sandbox.configure(webhook_url=webhook_receiver.url)
    return sandbox


def test_customer_message_reaches_receiver_signed_over_raw_bytes(hooked: Any, webhook_receiver: Any) -> None:
    wamid = hooked.customer_sends(ANA, {"type": "text", "text": {"body": "Olá, ça va? 😀 @home"}}, name="Zoë")
    (request,) = webhook_receiver.wait_for(1)
    assert request.headers["content-type"] == "application/json"
    assert signature_ok(hooked.app_secret, request.body, request.headers.get("x-hub-signature-256"))
    assert not signature_ok("wrong-secret", request.body, request.headers.get("x-hub-signature-256"))
    assert request.body.isascii() and b"\\u00e7" in request.body and b"\\ud83d\\ude00" in request.body
    body = request.json()
    assert body["object"] == "whatsapp_business_account"
    (entry,) = body["entry"]
    assert entry["id"] == hooked.waba_id
    (change,) = entry["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["metadata"] == {"display_phone_number": hooked.display_phone_number,
                                 "phone_number_id": hooked.phone_number_id}
    assert value["contacts"] == [{"profile": {"name": "Zoë"}, "wa_id": ANA}]
    (message,) = value["messages"]
    assert message["from"] == ANA and message["id"] == wamid and message["type"] == "text"
    assert message["text"] == {"body": "Olá, ça va? 😀 @home"}
    assert isinstance(message["timestamp"], str) and message["timestamp"].isdigit()
    (delivery,) = hooked.wait_for_webhooks(lambda d: d and d[0]["attempts"])
    assert delivery["signature"] == request.headers["x-hub-signature-256"]
    assert delivery["raw"].encode() == request.body and delivery["attempts"][0]["status"] == 200


def test_configured_app_secret_signs(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(app_secret="rotated-secret")
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    (request,) = webhook_receiver.wait_for(1)
    assert signature_ok("rotated-secret", request.body, request.headers["x-hub-signature-256"])
    assert not signature_ok(hooked.app_secret, request.body, request.headers["x-hub-signature-256"])


def test_free_form_outside_window_is_accepted_then_fails_131047(hooked: Any, webhook_receiver: Any) -> None:
    status, answer = hooked.send(_text())
    assert status == 200
    wamid = answer["messages"][0]["id"]
    (failed,) = _wait_statuses(webhook_receiver, wamid, 1)
    assert failed["status"] == "failed" and failed["recipient_id"] == ANA
    (error,) = failed["errors"]
    assert error["code"] == 131047 and error["title"] == error["message"] == "Re-engagement message"
    assert error["error_data"]["details"] and error["href"]
    time.sleep(0.2)
    assert [s["status"] for s in _statuses(webhook_receiver, wamid)] == ["failed"]
    (stored,) = hooked.outbox()
    assert stored["status"] == "failed" and stored["errors"][0]["code"] == 131047


def test_in_window_sent_delivered_read_with_pricing(hooked: Any, webhook_receiver: Any) -> None:
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    status, answer = hooked.send(_text(biz_opaque_callback_data="ticket-7"))
    wamid = answer["messages"][0]["id"]
    statuses = _wait_statuses(webhook_receiver, wamid, 3)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(s["biz_opaque_callback_data"] == "ticket-7" and s["recipient_id"] == ANA for s in statuses)
    free = {"billable": False, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}
    assert statuses[0]["pricing"] == free and statuses[1]["pricing"] == free and "pricing" not in statuses[2]
    assert [int(s["timestamp"]) for s in statuses] == sorted(int(s["timestamp"]) for s in statuses)
    assert hooked.wait_for_outbox(lambda m: m and m[0]["status"] == "read")[0]["wamid"] == wamid


def test_templates_outside_window_and_their_pricing(hooked: Any, webhook_receiver: Any) -> None:
    _, utility = hooked.send(_template("hello_world", "en_US"))
    _, marketing = hooked.send(_template("spring_sale", "en", to="15557770002", components=SPRING))
    utility_statuses = _wait_statuses(webhook_receiver, utility["messages"][0]["id"], 3)
    marketing_statuses = _wait_statuses(webhook_receiver, marketing["messages"][0]["id"], 3)
    assert [s["status"] for s in utility_statuses] == ["sent", "delivered", "read"]
    assert utility_statuses[0]["pricing"] == {"billable": True, "pricing_model": "PMP", "type": "regular",
                                              "category": "utility"}
    assert marketing_statuses[1]["pricing"]["category"] == "marketing"


def test_reaction_gets_only_sent(hooked: Any, webhook_receiver: Any) -> None:
    wamid_in = hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    _, answer = hooked.send({"messaging_product": "whatsapp", "to": ANA, "type": "reaction",
                             "reaction": {"message_id": wamid_in, "emoji": "❤"}})
    wamid = answer["messages"][0]["id"]
    _wait_statuses(webhook_receiver, wamid, 1)
    time.sleep(0.3)
    assert [s["status"] for s in _statuses(webhook_receiver, wamid)] == ["sent"]


def test_read_probability_zero_means_no_read(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(read_probability=0)
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    wamid = hooked.send(_text())[1]["messages"][0]["id"]
    _wait_statuses(webhook_receiver, wamid, 2)
    time.sleep(0.3)
    assert [s["status"] for s in _statuses(webhook_receiver, wamid)] == ["sent", "delivered"]


def test_configured_failures_131026_131050_131049(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(unreachable=["15557770010"], marketing_opted_out=["15557770011"],
                     ecosystem_limited=["15557770012"])
    cases = {
        "15557770010": (_template("hello_world", "en_US", to="15557770010"), 131026),
        "15557770011": (_template("spring_sale", "en", to="15557770011", components=SPRING), 131050),
        "15557770012": (_template("spring_sale", "en", to="15557770012", components=SPRING), 131049),
    }
    for to, (payload, code) in cases.items():
        status, answer = hooked.send(payload)
        assert status == 200, answer
        (failed,) = _wait_statuses(webhook_receiver, answer["messages"][0]["id"], 1)
        assert failed["status"] == "failed" and failed["errors"][0]["code"] == code, (to, failed)
    # 131050 is for marketing only: a utility template to the opted-out user is delivered.
    _, answer = hooked.send(_template("hello_world", "en_US", to="15557770011"))
    statuses = _wait_statuses(webhook_receiver, answer["messages"][0]["id"], 2)
    assert [s["status"] for s in statuses][:2] == ["sent", "delivered"]


def test_retries_on_receiver_500_then_success_with_attempts_recorded(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(webhook_retry_base_ms=60)
    webhook_receiver.respond_with(500, times=2)
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "retry me"}})
    requests = webhook_receiver.wait_for(3)
    assert len({request.body for request in requests}) == 1, "retries send the same bytes"
    (delivery,) = hooked.wait_for_webhooks(lambda d: d and d[0]["delivered"])
    attempts = delivery["attempts"]
    assert [attempt["status"] for attempt in attempts] == [500, 500, 200]
    gaps = [later["at"] - earlier["at"] for earlier, later in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.11, gaps  # 60 ms, then 120 ms (exponential)


def test_unreachable_receiver_attempts_record_errors_and_give_up(hooked: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    hooked.configure(webhook_url=dead, webhook_retry_base_ms=10, webhook_max_attempts=3)
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "x"}})
    (delivery,) = hooked.wait_for_webhooks(lambda d: d and len(d[0]["attempts"]) == 3)
    assert all(a["status"] is None and a["error"] for a in delivery["attempts"]) and not delivery["delivered"]
    time.sleep(0.2)
    assert len(hooked.webhooks()[0]["attempts"]) == 3


def test_chaos_duplicate_posts_each_body_twice(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(chaos={"duplicate": 1.0})
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "twice"}})
    first, second = webhook_receiver.wait_for(2)
    assert first.body == second.body and first.json()["entry"][0]["changes"][0]["value"]["messages"]
    assert len(hooked.webhooks()) == 2


def test_chaos_reorder_breaks_status_order(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(chaos={"reorder": 1.0}, status_delays_ms=[20, 60, 60])
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    wamids = [hooked.send(_text())[1]["messages"][0]["id"] for _ in range(6)]
    time.sleep(0.5)
    rank = {"sent": 1, "delivered": 2, "read": 3}
    for wamid in wamids:
        order = [s["status"] for s in _statuses(webhook_receiver, wamid)]
        assert "read" in order, order
        in_order = order == ["sent", "delivered", "read"]
        assert not in_order, order
        assert order.index("read") < order.index("delivered") if "delivered" in order else True
        timestamps = [(rank[s["status"]], int(s["timestamp"])) for s in _statuses(webhook_receiver, wamid)]
        assert [t for _, t in sorted(timestamps)] == sorted(t for _, t in timestamps), "timestamps stay true"


def test_chaos_batch_puts_several_statuses_in_one_post(hooked: Any, webhook_receiver: Any) -> None:
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    webhook_receiver.wait_for(1)
    hooked.configure(chaos={"batch": 1.0}, status_delays_ms=[30, 500, 500])
    wamids = {hooked.send(_text())[1]["messages"][0]["id"] for _ in range(5)}
    webhook_receiver.wait_until(lambda r: {s["id"] for s in r.statuses()} >= wamids)
    sizes = [len(change["value"].get("statuses", [])) for change in webhook_receiver.changes("messages")]
    assert max(sizes) >= 2, sizes
    request = webhook_receiver.requests[-1]
    assert signature_ok(hooked.app_secret, request.body, request.headers["x-hub-signature-256"])


def test_chaos_send_5xx_does_not_deliver(hooked: Any, webhook_receiver: Any) -> None:
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    webhook_receiver.wait_for(1)
    hooked.configure(chaos={"send_5xx": 1.0})
    seen = set()
    for _ in range(12):
        status, body = hooked.send(_text())
        seen.add((status, body["error"]["code"]))
    assert seen <= {(500, 131000), (503, 2)} and len(seen) == 2, seen
    time.sleep(0.2)
    assert hooked.outbox() == [] and len(webhook_receiver.requests) == 1


def test_chaos_send_timeout_outlasts_a_client_timeout(hooked: Any) -> None:
    hooked.configure(chaos={"send_timeout": 1.0}, chaos_timeout_ms=1500)
    url = f"{hooked.graph_url}/{hooked.phone_number_id}/messages"
    started = time.monotonic()
    with pytest.raises(OSError):
        http("POST", url, _text(), headers={"Authorization": f"Bearer {hooked.access_token}"}, timeout=0.5)
    assert time.monotonic() - started < 1.4


def test_user_preferences_webhook_and_marketing_opt_out(hooked: Any, webhook_receiver: Any) -> None:
    hooked.preferences(ANA, "stop")
    (request,) = webhook_receiver.wait_for(1)
    assert signature_ok(hooked.app_secret, request.body, request.headers["x-hub-signature-256"])
    entry = request.json()["entry"][0]
    assert isinstance(entry["time"], int)
    change = entry["changes"][0]
    assert change["field"] == "user_preferences"
    (preference,) = change["value"]["user_preferences"]
    assert preference["wa_id"] == ANA and preference["value"] == "stop"
    assert preference["category"] == "marketing_messages" and isinstance(preference["timestamp"], int)
    _, answer = hooked.send(_template("spring_sale", "en", components=SPRING))
    (failed,) = _wait_statuses(webhook_receiver, answer["messages"][0]["id"], 1)
    assert failed["errors"][0]["code"] == 131050
    hooked.preferences(ANA, "resume")
    _, answer = hooked.send(_template("spring_sale", "en", components=SPRING))
    assert _wait_statuses(webhook_receiver, answer["messages"][0]["id"], 1)[0]["status"] == "sent"


INBOUND = [
    {"type": "image", "image": {"caption": "look"}},
    {"type": "document", "document": {"filename": "invoice.pdf"}},
    {"type": "audio", "audio": {"voice": True}},
    {"type": "video", "video": {}},
    {"type": "sticker", "sticker": {}},
    {"type": "location", "location": {"latitude": 37.46, "longitude": -122.21, "name": "HQ"}},
    {"type": "contacts", "contacts": [{"name": {"formatted_name": "Chandler Bing"}, "phones": [{"phone": "+1 555"}]}]},
    {"type": "order", "order": {"catalog_id": "1", "text": "", "product_items": [
        {"product_retailer_id": "SKU1", "quantity": 3, "item_price": 30, "currency": "USD"}]}},
    {"type": "system", "system": {"body": "changed", "wa_id": "15550009999", "type": "user_changed_number"}},
    {"type": "unsupported"},
]


def test_every_inbound_type_is_delivered_in_metas_shape(hooked: Any, webhook_receiver: Any) -> None:
    for message in INBOUND:
        hooked.customer_sends(ANA, message)
    webhook_receiver.wait_for(len(INBOUND))
    received = {m["type"]: m for m in webhook_receiver.messages()}
    assert set(received) == {m["type"] for m in INBOUND}
    for kind in ("image", "document", "audio", "video", "sticker"):
        media = received[kind][kind]
        assert media["id"] and media["mime_type"] and media["sha256"], media
        status, info = hooked.graph("GET", f"/{media['id']}")
        assert status == 200 and info["id"] == media["id"] and info["mime_type"] == media["mime_type"]
        status, data = http("GET", info["url"], headers={"Authorization": f"Bearer {hooked.access_token}"})
        assert status == 200 and len(data) == info["file_size"] > 0
        assert http("GET", info["url"])[0] == 401
    assert received["document"]["document"]["filename"] == "invoice.pdf"
    assert received["unsupported"]["errors"][0]["code"] == 131051
    assert received["order"]["order"]["product_items"][0]["quantity"] == 3


def test_replies_carry_context_and_open_the_window(hooked: Any, webhook_receiver: Any) -> None:
    interactive = {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": "yes-1", "title": "Yes"}}]}}
    status, _ = hooked.send({"messaging_product": "whatsapp", "to": ANA, "type": "template",
                             "template": {"name": "hello_world", "language": {"code": "en_US"}}})
    assert status == 200
    wamid_out = hooked.outbox()[0]["wamid"]
    hooked.customer_sends(ANA, {"type": "button", "button": {"payload": "Interested", "text": "Interested"},
                                "context": {"id": wamid_out}})
    status, answer = hooked.send({"messaging_product": "whatsapp", "to": ANA, "type": "interactive",
                                  "interactive": interactive})
    assert status == 200, answer
    wamid_buttons = answer["messages"][0]["id"]
    hooked.customer_sends(ANA, {"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes"}}, "context": {"id": wamid_buttons}})
    hooked.customer_sends(ANA, {"type": "interactive", "interactive": {
        "type": "list_reply", "list_reply": {"id": "r1", "title": "Row", "description": "d"}}})
    hooked.customer_sends(ANA, {"type": "reaction", "reaction": {"message_id": wamid_buttons, "emoji": "👍"}})
    webhook_receiver.wait_until(lambda r: len(r.messages()) == 4)
    # Webhooks are delivered concurrently, so arrival order is not guaranteed (as with Meta).
    by_kind = {m["interactive"]["type"] if m["type"] == "interactive" else m["type"]: m
               for m in webhook_receiver.messages()}
    button, button_reply = by_kind["button"], by_kind["button_reply"]
    list_reply, reaction = by_kind["list_reply"], by_kind["reaction"]
    assert button["context"] == {"id": wamid_out, "from": hooked.display_phone_number}
    assert button["button"]["payload"] == "Interested"
    assert button_reply["interactive"]["button_reply"]["id"] == "yes-1"
    assert button_reply["context"]["id"] == wamid_buttons
    assert list_reply["interactive"]["type"] == "list_reply"
    assert reaction["reaction"]["emoji"] == "👍"
    free_form = [s for s in webhook_receiver.statuses() if s["id"] == wamid_buttons]
    assert all(s["status"] != "failed" for s in free_form), "the button reply opened the window"


def test_window_seconds_is_configurable(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(window_seconds=0)
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    wamid = hooked.send(_text())[1]["messages"][0]["id"]
    assert _wait_statuses(webhook_receiver, wamid, 1)[0]["errors"][0]["code"] == 131047


def test_unknown_outbound_media_id_fails_131053(hooked: Any, webhook_receiver: Any) -> None:
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    _, answer = hooked.send({"messaging_product": "whatsapp", "to": ANA, "type": "image", "image": {"id": "123"}})
    assert _wait_statuses(webhook_receiver, answer["messages"][0]["id"], 1)[0]["errors"][0]["code"] == 131053


def test_reset_drops_pending_statuses(hooked: Any, webhook_receiver: Any) -> None:
    hooked.configure(status_delays_ms=[300, 300, 300])
    hooked.customer_sends(ANA, {"type": "text", "text": {"body": "hi"}})
    webhook_receiver.wait_for(1)
    hooked.send(_text())
    hooked.reset()
    hooked.configure(webhook_url=webhook_receiver.url)
    time.sleep(0.5)
    assert webhook_receiver.statuses() == [] and hooked.webhooks() == []
    assert json.dumps(hooked.outbox()) == "[]"

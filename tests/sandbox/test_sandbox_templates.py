"""Template sends (132xxx) and the template management API with its status webhooks."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Sequence

import pytest

TO = "15558880001"


def _send_template(sandbox: Any, name: str, language: str, components: Any = None) -> Any:
    template: Dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = components
    return sandbox.send({"messaging_product": "whatsapp", "to": TO, "type": "template", "template": template})


def _body(*texts: str, names: Sequence[str] = ()) -> List[Dict[str, Any]]:
    parameters = []
    for index, text in enumerate(texts):
        parameter = {"type": "text", "text": text}
        if names:
            parameter["parameter_name"] = names[index]
        parameters.append(parameter)
    return [{"type": "body", "parameters": parameters}]


def _error(result: Any) -> Any:
    status, body = result
    return status, body["error"]["code"]


def test_seed_templates_send(sandbox: Any) -> None:
    assert _send_template(sandbox, "hello_world", "en_US")[0] == 200
    assert _send_template(sandbox, "order_update", "en", _body("Ana", "A-1", "shipped"))[0] == 200
    assert _send_template(sandbox, "reengage", "en", _body("Ana"))[0] == 200
    spring = _body("Ana", "20%", names=["first_name", "discount"])
    assert _send_template(sandbox, "spring_sale", "en", spring)[0] == 200
    reordered = _body("20%", "Ana", names=["discount", "first_name"])
    assert _send_template(sandbox, "spring_sale", "en", reordered)[0] == 200, "named params may come in any order"


def test_unknown_template_or_language_is_132001_404(sandbox: Any) -> None:
    assert _error(_send_template(sandbox, "no_such_template", "en")) == (404, 132001)
    status, body = _send_template(sandbox, "hello_world", "pt_BR")
    assert (status, body["error"]["code"]) == (404, 132001)
    assert body["error"]["message"] == "(#132001) Template name does not exist in the translation"


def test_template_status_gates_sends(sandbox: Any) -> None:
    template_id = sandbox.template_id("hello_world", "en_US")
    sandbox.set_template_status(template_id, "PAUSED")
    assert _error(_send_template(sandbox, "hello_world", "en_US")) == (400, 132015)
    sandbox.set_template_status(template_id, "DISABLED")
    assert _error(_send_template(sandbox, "hello_world", "en_US")) == (400, 132016)
    sandbox.set_template_status(template_id, "REJECTED", reason="PROMOTIONAL")
    assert _error(_send_template(sandbox, "hello_world", "en_US")) == (404, 132001)
    sandbox.set_template_status(template_id, "APPROVED")
    assert _send_template(sandbox, "hello_world", "en_US")[0] == 200
    assert len(sandbox.outbox()) == 1


@pytest.mark.parametrize("components", [
    None,
    _body("Ana", "A-1"),
    _body("Ana", "A-1", "shipped", "extra"),
    [{"type": "header", "parameters": [{"type": "text", "text": "x"}]}] + _body("Ana", "A-1", "shipped"),
])
def test_parameter_count_mismatch_is_132000(sandbox: Any, components: Any) -> None:
    assert _error(_send_template(sandbox, "order_update", "en", components)) == (400, 132000)


def test_named_vs_positional_mismatch_is_132012(sandbox: Any) -> None:
    named_for_positional = _body("Ana", "A-1", "shipped", names=["a", "b", "c"])
    assert _error(_send_template(sandbox, "order_update", "en", named_for_positional)) == (400, 132012)
    positional_for_named = _body("Ana", "20%")
    assert _error(_send_template(sandbox, "spring_sale", "en", positional_for_named)) == (400, 132012)
    wrong_names = _body("Ana", "20%", names=["first_name", "percent"])
    assert _error(_send_template(sandbox, "spring_sale", "en", wrong_names)) == (400, 132000)
    image_in_body = [{"type": "body", "parameters": [{"type": "image", "image": {"link": "https://e.com/a.jpg"}}]}]
    assert _error(_send_template(sandbox, "reengage", "en", image_in_body)) == (400, 132012)


NEW_TEMPLATE = {
    "name": "shoe_drop", "language": "en_US", "category": "MARKETING", "parameter_format": "NAMED",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "New in {{size}}",
         "example": {"header_text_named_params": [{"param_name": "size", "example": "7"}]}},
        {"type": "BODY", "text": "Hi {{first_name}}, new shoes in size {{size}} are here.",
         "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"},
                                                {"param_name": "size", "example": "7"}]}},
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Show me"},
                                        {"type": "URL", "text": "Shop", "url": "https://shop.example/{{1}}",
                                         "example": ["https://shop.example/7"]}]},
    ],
}


def _status_events(receiver: Any) -> List[Dict[str, Any]]:
    return [change["value"] for change in receiver.changes("message_template_status_update")]


def test_template_crud_and_status_webhooks(sandbox: Any, webhook_receiver: Any) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url, template_review_ms=100)
    status, created = sandbox.graph("POST", f"/{sandbox.waba_id}/message_templates", NEW_TEMPLATE)
    assert status == 200 and created["status"] == "PENDING" and created["category"] == "MARKETING", created
    template_id = created["id"]
    status, body = _send_template(sandbox, "shoe_drop", "en_US")
    assert (status, body["error"]["code"]) == (404, 132001), "PENDING can't be sent"
    webhook_receiver.wait_until(lambda r: len(_status_events(r)) >= 1)
    (approved,) = _status_events(webhook_receiver)
    assert approved["event"] == "APPROVED" and approved["message_template_id"] == int(template_id)
    assert approved["message_template_name"] == "shoe_drop" and approved["message_template_language"] == "en_US"
    assert approved["message_template_category"] == "MARKETING" and approved["reason"] == "NONE"
    entry = webhook_receiver.requests[-1].json()["entry"][0]
    assert isinstance(entry["time"], int) and entry["id"] == sandbox.waba_id

    params = [{"type": "header", "parameters": [{"type": "text", "parameter_name": "size", "text": "7"}]},
              {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"},
                                              {"type": "text", "parameter_name": "size", "text": "7"}]},
              {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "7"}]}]
    assert _send_template(sandbox, "shoe_drop", "en_US", params)[0] == 200
    assert _error(_send_template(sandbox, "shoe_drop", "en_US", params[:2])) == (400, 132000), "URL variable missing"

    status, got = sandbox.graph("GET", f"/{template_id}?fields=status,name")
    assert status == 200 and got == {"id": template_id, "name": "shoe_drop", "status": "APPROVED"}

    status, listed = sandbox.graph("GET", f"/{sandbox.waba_id}/message_templates?fields=name,status&status=APPROVED")
    assert status == 200 and {t["name"] for t in listed["data"]} >= {"hello_world", "shoe_drop"}
    assert all(set(t) == {"id", "name", "status"} for t in listed["data"])

    edited = {"components": [{"type": "BODY", "text": "Hello {{first_name}}, fresh pairs are in.",
                              "example": {"body_text_named_params": [{"param_name": "first_name", "example": "A"}]}}]}
    status, answer = sandbox.graph("POST", f"/{template_id}", edited)
    assert (status, answer) == (200, {"success": True})
    webhook_receiver.wait_until(lambda r: [e["event"] for e in _status_events(r)] == ["APPROVED", "PENDING", "APPROVED"])
    one_param = [{"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}]}]
    assert _send_template(sandbox, "shoe_drop", "en_US", one_param)[0] == 200

    sandbox.set_template_status(template_id, "PAUSED")
    sandbox.set_template_status(template_id, "REJECTED", reason="PROMOTIONAL")
    webhook_receiver.wait_until(lambda r: len(_status_events(r)) == 5)
    paused, rejected = _status_events(webhook_receiver)[3:]
    assert paused["event"] == "PAUSED" and "other_info" in paused
    assert rejected["event"] == "REJECTED" and rejected["reason"] == "PROMOTIONAL"

    status, answer = sandbox.graph("DELETE", f"/{sandbox.waba_id}/message_templates?name=shoe_drop&hsm_id={template_id}")
    assert (status, answer) == (200, {"success": True})
    assert sandbox.graph("GET", f"/{template_id}")[0] == 400
    webhook_receiver.wait_until(lambda r: len(_status_events(r)) == 6)
    assert _status_events(webhook_receiver)[-1]["event"] == "PENDING_DELETION"
    assert _status_events(webhook_receiver)[-1]["reason"] is None
    status, body = sandbox.graph("DELETE", f"/{sandbox.waba_id}/message_templates?name=shoe_drop")
    assert status == 400 and body["error"]["code"] == 100


def test_template_stays_pending_when_auto_approve_is_off(sandbox: Any) -> None:
    sandbox.configure(template_auto_approve=False, template_review_ms=10)
    created = sandbox.graph("POST", f"/{sandbox.waba_id}/message_templates",
                            {**NEW_TEMPLATE, "name": "slow_review"})[1]
    time.sleep(0.1)
    assert sandbox.graph("GET", f"/{created['id']}?fields=status")[1]["status"] == "PENDING"
    status, body = sandbox.graph("POST", f"/{created['id']}", {"category": "UTILITY"})
    assert status == 400 and body["error"]["code"] == 100, "in review: no edits"
    sandbox.set_template_status(created["id"], "APPROVED")
    assert sandbox.graph("GET", f"/{created['id']}?fields=status")[1]["status"] == "APPROVED"


BAD_DEFINITIONS = [
    {**NEW_TEMPLATE, "name": "Shoe Drop"},
    {**NEW_TEMPLATE, "name": "x" * 513},
    {**NEW_TEMPLATE, "category": "PROMO"},
    {**NEW_TEMPLATE, "parameter_format": "MIXED"},
    {**NEW_TEMPLATE, "components": []},
    {**NEW_TEMPLATE, "components": [{"type": "FOOTER", "text": "no body"}]},
    {**NEW_TEMPLATE, "parameter_format": "POSITIONAL"},
    {**NEW_TEMPLATE, "components": [{"type": "BODY", "text": "Hi {{1}} and {{first_name}} x"}]},
    {**NEW_TEMPLATE, "parameter_format": "POSITIONAL", "components": [{"type": "BODY", "text": "Hi {{2}} there"}]},
    {**NEW_TEMPLATE, "parameter_format": "POSITIONAL", "components": [{"type": "BODY", "text": "{{1}} is here"}]},
    {**NEW_TEMPLATE, "components": [{"type": "BODY", "text": "b" * 1025}]},
    {**NEW_TEMPLATE, "components": [{"type": "BODY", "text": "ok"}, {"type": "FOOTER", "text": "f" * 61}]},
    {**NEW_TEMPLATE, "components": [{"type": "BODY", "text": "ok"}, {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "t" * 26}]}]},
    {**NEW_TEMPLATE, "components": [{"type": "BODY", "text": "ok"}, {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": f"b{i}"} for i in range(11)]}]},
    {"name": "hello_world", "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "dup"}]},
]


@pytest.mark.parametrize("definition", BAD_DEFINITIONS)
def test_bad_template_definitions_are_rejected(sandbox: Any, definition: Dict[str, Any]) -> None:
    status, body = sandbox.graph("POST", f"/{sandbox.waba_id}/message_templates", definition)
    assert status == 400 and body["error"]["code"] == 100, body
    assert body["error"]["error_data"]["details"]


def test_listing_pages_with_cursors(sandbox: Any) -> None:
    for index in range(5):
        definition = {"name": f"bulk_{index}", "language": "en", "category": "UTILITY",
                      "components": [{"type": "BODY", "text": "Plain body"}]}
        assert sandbox.graph("POST", f"/{sandbox.waba_id}/message_templates", definition)[0] == 200
    path = f"/{sandbox.waba_id}/message_templates?limit=3&summary=total_count"
    status, first = sandbox.graph("GET", path)
    assert status == 200 and len(first["data"]) == 3 and first["summary"]["total_count"] == 9
    assert first["paging"]["next"].startswith(sandbox.url) and "after=" in first["paging"]["next"]
    seen = [t["name"] for t in first["data"]]
    after = first["paging"]["cursors"]["after"]
    while True:
        page = sandbox.graph("GET", f"/{sandbox.waba_id}/message_templates?limit=3&after={after}")[1]
        seen += [t["name"] for t in page["data"]]
        if "next" not in page.get("paging", {}):
            break
        after = page["paging"]["cursors"]["after"]
    assert len(seen) == len(set(seen)) == 9
    status, filtered = sandbox.graph("GET", f"/{sandbox.waba_id}/message_templates?name=bulk&status=PENDING")
    assert status == 200 and {t["name"] for t in filtered["data"]} == {f"bulk_{i}" for i in range(5)}
    assert sandbox.graph("GET", f"/{sandbox.waba_id}/message_templates?fields=bogus")[0] == 400
    assert sandbox.graph("GET", f"/{sandbox.waba_id}/message_templates?after=!!")[0] == 400
    assert sandbox.graph("GET", "/12345/message_templates")[0] == 400


def test_admin_status_call_validates(sandbox: Any) -> None:
    status, body = sandbox.request("POST", "/_sandbox/templates/300000000000001/status", {"status": "BOGUS"})
    assert status == 400 and "error" in body
    status, body = sandbox.request("POST", "/_sandbox/templates/1/status", {"status": "APPROVED"})
    assert status == 404

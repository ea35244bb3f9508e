"""The virtual-phones page and the inspection API behind it (HTTP level; the lead adds a browser test)."""
from __future__ import annotations

import re
from typing import Any

from tests.plugins.sandbox import http

TO = "15559990001"


def test_page_and_assets_load_without_cdn(sandbox: Any) -> None:
    for path in ("/", "/_sandbox/phones"):
        status, html = http("GET", sandbox.url + path)
        assert status == 200 and b"<title>Parley sandbox: virtual phones</title>" in html
        sources = re.findall(rb'(?:src|href)="([^"]+)"', html)
        assert sources and all(source.startswith(b"/_sandbox/static/") for source in sources), sources
    status, script = http("GET", sandbox.url + "/_sandbox/static/phones.js")
    assert status == 200 and b"textContent" in script
    assert b"innerHTML" not in script and b"insertAdjacentHTML" not in script and b"eval(" not in script
    assert http("GET", sandbox.url + "/_sandbox/static/phones.css")[0] == 200
    assert http("GET", sandbox.url + "/_sandbox/static/../settings.py")[0] in (400, 404)


def test_customers_can_be_created_and_listed(sandbox: Any) -> None:
    status, body = sandbox.request("POST", "/_sandbox/customers", {"wa_id": TO, "name": "<img src=x onerror=alert(1)>"})
    assert status == 201 and body["name"] == "<img src=x onerror=alert(1)>"
    assert sandbox.request("POST", "/_sandbox/customers", {"wa_id": "12ab"})[0] == 400
    (customer,) = sandbox.get("/_sandbox/customers")["customers"]
    assert customer["wa_id"] == TO and customer["window_open"] is False and customer["messages"] == 0
    sandbox.customer_sends(TO, {"type": "text", "text": {"body": "hi"}})
    (customer,) = sandbox.get("/_sandbox/customers")["customers"]
    assert customer["window_open"] is True and customer["messages"] == 1
    assert sandbox.request("GET", "/_sandbox/customers/15550000999/conversation")[0] == 404


def test_conversation_shows_business_messages_with_ticks_and_rendered_templates(sandbox: Any) -> None:
    sandbox.customer_sends(TO, {"type": "text", "text": {"body": "hello"}}, name="Ana")
    buttons = {"type": "button", "body": {"text": "Which size?"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": "size-7", "title": "7"}}, {"type": "reply", "reply": {"id": "size-8", "title": "8"}}]}}
    assert sandbox.send({"messaging_product": "whatsapp", "to": TO, "type": "interactive", "interactive": buttons})[0] == 200
    rows = {"type": "list", "body": {"text": "Ship how?"}, "action": {"button": "Options", "sections": [
        {"title": "All", "rows": [{"id": "fast", "title": "Fast", "description": "1 day"}]}]}}
    assert sandbox.send({"messaging_product": "whatsapp", "to": TO, "type": "interactive", "interactive": rows})[0] == 200
    spring = {"name": "spring_sale", "language": {"code": "en"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"},
                                        {"type": "text", "parameter_name": "discount", "text": "20%"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "SPRING_YES"}]}]}
    assert sandbox.send({"messaging_product": "whatsapp", "to": TO, "type": "template", "template": spring})[0] == 200
    sandbox.wait_for_outbox(lambda m: len(m) == 3 and all(x["status"] == "read" for x in m))
    conversation = sandbox.conversation(TO)
    assert conversation["name"] == "Ana" and conversation["window_open"] is True
    inbound, button_message, list_message, template_message = conversation["messages"]
    assert inbound["direction"] == "in" and inbound["view"]["text"] == "hello"
    assert all(m["status"] == "read" for m in (button_message, list_message, template_message))
    assert button_message["view"]["buttons"] == [{"id": "size-7", "title": "7", "reply": "button_reply"},
                                                 {"id": "size-8", "title": "8", "reply": "button_reply"}]
    assert list_message["view"]["list"]["sections"][0]["rows"][0] == {"id": "fast", "title": "Fast", "description": "1 day"}
    view = template_message["view"]
    assert view["text"] == "Hi Ana, our spring sale is on: 20% off everything this week!"
    assert view["buttons"][0] == {"title": "Interested", "id": "SPRING_YES", "reply": "button"}
    assert view["buttons"][1] == {"title": "Stop promotions", "id": "Stop promotions", "reply": "button"}


def test_positional_template_rendering_and_failed_ticks(sandbox: Any) -> None:
    order = {"name": "order_update", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [
        {"type": "text", "text": "Ana"}, {"type": "text", "text": "A-1"}, {"type": "text", "text": "shipped"}]}]}
    assert sandbox.send({"messaging_product": "whatsapp", "to": TO, "type": "template", "template": order})[0] == 200
    assert sandbox.send({"messaging_product": "whatsapp", "to": TO, "type": "text", "text": {"body": "no window"}})[0] == 200
    sandbox.wait_for_outbox(lambda m: len(m) == 2 and m[1]["status"] == "failed")
    template_message, text_message = sandbox.conversation(TO)["messages"]
    assert template_message["view"]["text"] == "Hi Ana, your order A-1 is shipped."
    assert text_message["status"] == "failed" and text_message["errors"][0]["code"] == 131047

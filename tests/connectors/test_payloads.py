"""Payload builders: Meta's shapes, and the §6.6 limits enforced before any network call."""
from __future__ import annotations

import pytest

from connectors import payloads
from connectors.errors import InvalidRequest


def test_text_shape() -> None:
    body = payloads.text("Hi! https://example.com", preview_url=True, reply_to="wamid.IN")
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "type": "text",
                    "text": {"body": "Hi! https://example.com", "preview_url": True},
                    "context": {"message_id": "wamid.IN"}}


def test_text_limit() -> None:
    payloads.text("x" * 4096)
    with pytest.raises(InvalidRequest) as caught:
        payloads.text("x" * 4097)
    assert caught.value.local and caught.value.code == 100 and "4097" in caught.value.details
    with pytest.raises(InvalidRequest):
        payloads.text("")


def test_split_text_on_word_boundaries() -> None:
    words = [f"word{i}" for i in range(3000)]
    text = " ".join(words)
    chunks = payloads.split_text(text)
    assert len(chunks) > 1
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert " ".join(chunks).split(" ") == words  # no word cut, none lost, order kept


def test_split_text_prefers_paragraphs_and_cuts_giant_words() -> None:
    first = "a" * 3000
    second = "b " * 1000
    chunks = payloads.split_text(first + "\n\n" + second, 4096)
    assert chunks[0] == first
    assert payloads.split_text("z" * 10000, 4096) == ["z" * 4096, "z" * 4096, "z" * 1808]
    assert payloads.split_text("short") == ["short"]
    assert payloads.split_text("   ") == []
    assert payloads.split_text("ab cd", 2) == ["ab", "cd"]


def test_reply_buttons() -> None:
    body = payloads.reply_buttons("Pick", [("yes", "Yes"), ("no", "No")], header="Q", footer="f")
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    assert interactive["header"] == {"type": "text", "text": "Q"}
    assert interactive["action"]["buttons"][1] == {"type": "reply", "reply": {"id": "no", "title": "No"}}


@pytest.mark.parametrize("buttons", [
    [],
    [("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")],
    [("a", "x" * 21)],
    [("a" * 257, "A")],
    [("a", "Same"), ("b", "Same")],
])
def test_reply_button_limits(buttons: list) -> None:
    with pytest.raises(InvalidRequest):
        payloads.reply_buttons("Pick", buttons)


def test_reply_button_body_and_footer_limits() -> None:
    with pytest.raises(InvalidRequest):
        payloads.reply_buttons("x" * 1025, [("a", "A")])
    with pytest.raises(InvalidRequest):
        payloads.reply_buttons("ok", [("a", "A")], footer="f" * 61)
    with pytest.raises(InvalidRequest):
        payloads.reply_buttons("ok", [("a", "A")], header="h" * 61)


def test_list_message_and_limits() -> None:
    rows = [{"id": f"r{i}", "title": f"Row {i}", "description": "d"} for i in range(10)]
    body = payloads.list_message("Choose", "Open", [{"title": "All", "rows": rows}])
    action = body["interactive"]["action"]
    assert action["button"] == "Open" and len(action["sections"][0]["rows"]) == 10
    with pytest.raises(InvalidRequest):
        payloads.list_message("Choose", "Open", [{"title": "A", "rows": rows + [{"id": "x", "title": "X"}]}])
    with pytest.raises(InvalidRequest):
        payloads.list_message("Choose", "Open", [{"rows": [{"id": "x", "title": "t" * 25}]}])
    with pytest.raises(InvalidRequest):
        payloads.list_message("Choose", "Open", [{"rows": [{"id": "i" * 201, "title": "t"}]}])
    with pytest.raises(InvalidRequest):
        payloads.list_message("Choose", "b" * 21, [{"rows": [{"id": "x", "title": "t"}]}])
    with pytest.raises(InvalidRequest):
        payloads.list_message("Choose", "Open", [{"rows": [{"id": "x", "title": "t", "description": "d" * 73}]}])
    with pytest.raises(InvalidRequest):  # several sections need titles
        payloads.list_message("Choose", "Open", [{"rows": [{"id": "x", "title": "t"}]}] * 2)


def test_media() -> None:
    assert payloads.media("image", link="https://x/a.jpg", caption="c")["image"] == {"link": "https://x/a.jpg",
                                                                                   "caption": "c"}
    assert payloads.media("document", media_id="42", filename="x.pdf")["document"] == {"id": "42",
                                                                                      "filename": "x.pdf"}
    for bad in (dict(kind="gif", link="https://x"), dict(kind="image"),
                dict(kind="image", link="https://x", media_id="1"), dict(kind="image", link="ftp://x"),
                dict(kind="audio", media_id="1", caption="no"), dict(kind="image", media_id="1", filename="f")):
        with pytest.raises(InvalidRequest):
            payloads.media(bad.pop("kind"), **bad)


def test_template_positional_named_and_buttons() -> None:
    body = payloads.template("order_update", "en", body=["Ana", "A-1", {"type": "currency", "currency": {
        "fallback_value": "$1", "code": "USD", "amount_1000": 1000}}],
        buttons=[payloads.quick_reply_button(0, "CONFIRM"), payloads.url_button(1, "o/1")])
    template = body["template"]
    assert template["name"] == "order_update" and template["language"] == {"code": "en"}
    params = template["components"][0]
    assert params["type"] == "body"
    assert params["parameters"][:2] == [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-1"}]
    assert params["parameters"][2]["type"] == "currency"
    assert template["components"][1] == {"type": "button", "sub_type": "quick_reply", "index": "0",
                                         "parameters": [{"type": "payload", "payload": "CONFIRM"}]}
    named = payloads.template("spring_sale", "en", body={"first_name": "Ana", "discount": 20})
    assert named["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Ana", "parameter_name": "first_name"},
        {"type": "text", "text": "20", "parameter_name": "discount"}]
    assert "components" not in payloads.template("hello_world", "en_US")["template"]
    assert payloads.is_template(named) and not payloads.is_template(payloads.text("x"))
    with pytest.raises(InvalidRequest):
        payloads.template("Bad-Name", "en")
    with pytest.raises(InvalidRequest):
        payloads.template("ok", "en", buttons=[payloads.quick_reply_button(i, "p") for i in range(11)])


def test_reaction_location_contacts_read_typing() -> None:
    assert payloads.reaction("wamid.A", "👍")["reaction"] == {"message_id": "wamid.A", "emoji": "👍"}
    assert payloads.reaction("wamid.A", "")["reaction"]["emoji"] == ""
    assert payloads.location(1.5, 2.5, name="Shop")["location"] == {"latitude": 1.5, "longitude": 2.5, "name": "Shop"}
    with pytest.raises(InvalidRequest):
        payloads.location(91, 0)
    card = {"name": {"formatted_name": "Ana B", "first_name": "Ana"}, "phones": [{"phone": "+1555"}]}
    assert payloads.contacts([card])["contacts"] == [card]
    with pytest.raises(InvalidRequest):
        payloads.contacts([{"name": {}}])
    assert payloads.mark_read("wamid.A") == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A"}
    assert payloads.typing_indicator("wamid.A")["typing_indicator"] == {"type": "text"}
    assert "type" not in payloads.typing_indicator("wamid.A")
    payloads.check_callback_data("c" * 512)
    with pytest.raises(InvalidRequest):
        payloads.check_callback_data("c" * 513)

"""Parsing captured-style bodies and mapping them to bot inputs and events."""
from __future__ import annotations

import json

import pytest

from connectors import events, mapping, webhook
from connectors.webhook import MessageType, StatusValue

from .inbound_support import fixture, fixture_bytes


def one(name: str) -> webhook.InboundMessage:
    parsed = webhook.parse(fixture_bytes(name))
    assert len(parsed.messages) == 1
    return parsed.messages[0]


def test_text_message_and_contact() -> None:
    msg = one("text")
    assert (msg.wamid, msg.wa_id, msg.name, msg.phone_number_id) == ("wamid.TEXT1", "16505551234", "Sheena Nelson", "100000000000001")
    assert (msg.type, msg.text, msg.timestamp) == (MessageType.TEXT, "hi", 1749416383)
    bot = mapping.bot_input(msg)
    assert bot is not None and (bot.sender_id, bot.text, bot.message_id) == ("16505551234", "hi", "wamid.TEXT1")
    assert bot.metadata["name"] == "Sheena Nelson" and bot.metadata["phone_number_id"] == "100000000000001"


def test_escaped_unicode_is_decoded() -> None:
    msg = one("text_unicode")
    assert msg.text == "äöå café 😮 @home https://x.y/z" and msg.name == "Zoë Ünal"


@pytest.mark.parametrize("text, expected", [
    ("/restart", "restart"), ("  //restart", "restart"), ("/ /opt_in", "opt_in"), ("/", "[empty]"),
    ("hi /there", "hi /there"), ("", ""),
])
def test_free_text_is_never_a_command(text: str, expected: str) -> None:
    assert mapping.neutralise(text) == expected


def test_leading_slash_text_is_neutralised_for_the_bot() -> None:
    bot = mapping.bot_input(one("text_slash"))
    assert bot is not None and bot.text == "restart"


@pytest.mark.parametrize("name, payload, title", [
    ("interactive_button_reply", "/affirm", "Yes"),
    ("interactive_list_reply", '/choose_plan{"plan":"express"}', "Priority Mail Express"),
    ("template_button", "/stop_promotions", "Stop promotions"),
])
def test_taps_carry_their_payload_verbatim(name: str, payload: str, title: str) -> None:
    msg = one(name)
    bot = mapping.bot_input(msg)
    assert bot is not None and bot.text == payload
    assert bot.metadata["title"] == title and bot.metadata["context_id"].startswith("wamid.")


def test_media_placeholder_and_caption() -> None:
    bot = mapping.bot_input(one("image"))
    assert bot is not None and bot.text == '/media_received{"media_type":"image"}'
    assert bot.metadata["media"]["id"] == "65463453" and bot.metadata["media"]["mime_type"] == "image/jpeg"
    doc = mapping.bot_input(one("document_caption"))
    assert doc is not None and doc.text == "opt_in my invoice"  # captions are free text too
    assert doc.metadata["media"]["filename"] == "invoice.pdf"


def test_location_becomes_a_parley_built_intent() -> None:
    bot = mapping.bot_input(one("location"))
    assert bot is not None and bot.text.startswith("/share_location{")
    assert json.loads(bot.text[len("/share_location"):]) == {"latitude": 37.46, "longitude": -122.21}
    assert bot.metadata["location"]["name"] == "HQ"


@pytest.mark.parametrize("name, kind", [
    ("reaction", MessageType.REACTION), ("contacts", MessageType.CONTACTS), ("order", MessageType.ORDER),
    ("system", MessageType.SYSTEM), ("unsupported", MessageType.UNSUPPORTED), ("unknown_type", MessageType.UNKNOWN),
    ("interactive_missing", MessageType.INTERACTIVE),
])
def test_types_recorded_but_not_sent_to_the_bot(name: str, kind: MessageType) -> None:
    msg = one(name)
    assert msg.type is kind and mapping.bot_input(msg) is None
    data = mapping.received_event(msg).data
    assert data["wamid"] == msg.wamid and data["type"] == msg.raw_type


def test_unknown_type_keeps_its_raw_name() -> None:
    msg = one("unknown_type")
    assert msg.raw_type == "hologram" and msg.raw["hologram"] == {"shape": "cube"}


def test_batch_iterates_every_entry_change_message_and_status() -> None:
    parsed = webhook.parse(fixture_bytes("batch_3_messages_4_statuses"))
    assert [m.wamid for m in parsed.messages] == ["wamid.B1", "wamid.B2", "wamid.B3"]
    assert [m.name for m in parsed.messages] == ["Sheena", "Bob", "Sheena"]
    assert [s.status for s in parsed.statuses] == [StatusValue.SENT, StatusValue.DELIVERED, StatusValue.READ, StatusValue.FAILED]
    found = mapping.direct_events(parsed)
    kinds = [e.type for _, e, _ in found]
    assert kinds == [events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ, events.MESSAGE_FAILED]
    failed = found[3][1]
    assert failed.id == "wamid.OUT8:failed"
    assert failed.data["errors"] == [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement.",
                                      "details": "In order to maintain"}]
    assert found[0][1].data["pricing"]["category"] == "service" and found[0][1].data["wa_id"] == "16505551234"


def test_unknown_status_value_does_not_crash() -> None:
    doc = fixture("batch_3_messages_4_statuses")
    doc["entry"][1]["changes"][1]["value"]["statuses"][0]["status"] = "teleported"
    status = webhook.parse(doc).statuses[0]
    assert status.status is StatusValue.UNKNOWN and mapping.status_event(status).type == events.MESSAGE_STATUS_OTHER


def test_non_message_fields_become_events() -> None:
    (key, tpl, _), = mapping.direct_events(webhook.parse(fixture_bytes("template_status_update")))
    assert tpl.type == events.TEMPLATE_STATUS_UPDATED
    assert (tpl.data["template_id"], tpl.data["status"], tpl.data["reason"]) == ("1689556908129835", "REJECTED", "INVALID_FORMAT")
    (_, pref, _), = mapping.direct_events(webhook.parse(fixture_bytes("user_preferences_stop")))
    assert pref.type == events.CONTACT_OPTED_OUT
    assert (pref.data["wa_id"], pref.data["source"], pref.data["category"]) == ("16505551234", "user_preferences", "marketing")
    (_, err, _), = mapping.direct_events(webhook.parse(fixture_bytes("value_errors")))
    assert err.type == events.WEBHOOK_ERROR and err.data["errors"][0]["code"] == 130429
    (_, acct, _), = mapping.direct_events(webhook.parse(fixture_bytes("account_update")))
    assert acct.type == events.ACCOUNT_UPDATED and acct.data["value"]["event"] == "ACCOUNT_RESTRICTION"
    echo = webhook.parse(fixture_bytes("smb_message_echoes")).echoes[0]
    assert (echo.wamid, echo.to, echo.type) == ("wamid.ECHO1", "16505551234", "text")


def test_malformed_bodies() -> None:
    for body in (b"not json", b"[1,2]", b"\xff\xfe"):
        with pytest.raises(webhook.MalformedWebhook):
            webhook.parse(body)
    assert webhook.parse(b'{"entry": "oops"}').messages == []
    assert webhook.parse(b'{"entry":[{"changes":[{"field":"messages","value":{"messages":[7, {"type": 3}]}}]}]}').messages[0].type is MessageType.UNKNOWN

"""Rasa responses -> Cloud API bodies."""
from __future__ import annotations

import pytest

from connectors import render
from connectors.errors import InvalidRequest


def buttons(n: int, title: str = "Option") -> list:
    return [{"title": f"{title} {i}", "payload": f"/choose{{\"n\":{i}}}"} for i in range(1, n + 1)]


def test_plain_text() -> None:
    assert render.render({"text": "Hello"}) == [{"messaging_product": "whatsapp", "recipient_type": "individual",
                                                  "type": "text", "text": {"body": "Hello"}}]
    assert render.render({"text": "   "}) == []
    assert render.render({}) == []


def test_long_text_split_on_words() -> None:
    text = " ".join(f"w{i}" for i in range(3000))
    out = render.render({"text": text})
    assert len(out) == -(-len(text) // 4096) and all(len(b["text"]["body"]) <= 4096 for b in out)
    assert " ".join(b["text"]["body"] for b in out) == text


@pytest.mark.parametrize("n", [1, 2, 3])
def test_up_to_three_buttons_are_reply_buttons(n: int) -> None:
    (body,) = render.render({"text": "Pick one", "buttons": buttons(n)})
    interactive = body["interactive"]
    assert interactive["type"] == "button" and interactive["body"] == {"text": "Pick one"}
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert [r["id"] for r in replies] == [b["payload"] for b in buttons(n)]
    assert [r["title"] for r in replies] == [b["title"] for b in buttons(n)]


def test_quick_replies_render_like_buttons() -> None:
    (body,) = render.render({"text": "Continue?", "quick_replies": [{"title": "Yes", "payload": "/affirm"},
                                                                     {"title": "No", "payload": "/deny"}]})
    assert [b["reply"]["id"] for b in body["interactive"]["action"]["buttons"]] == ["/affirm", "/deny"]


def test_long_titles_truncated_at_words_and_kept_unique() -> None:
    choices = [{"title": "Talk to a human agent please", "payload": "/a"},
               {"title": "Talk to a human agent now", "payload": "/b"},
               {"title": "Supercalifragilisticexpialidocious", "payload": "/c"}]
    (body,) = render.render({"text": "?", "buttons": choices})
    titles = [b["reply"]["title"] for b in body["interactive"]["action"]["buttons"]]
    assert all(len(t) <= 20 for t in titles) and len(set(titles)) == 3
    assert titles[0] == "Talk to a human…"
    assert titles[1].endswith("(2)")
    assert titles[2] == "Supercalifragilisti…"


def test_button_without_payload_uses_title_and_empty_text_gets_prompt() -> None:
    (body,) = render.render({"buttons": [{"title": "Menu"}]})
    assert body["interactive"]["action"]["buttons"][0]["reply"] == {"id": "Menu", "title": "Menu"}
    assert body["interactive"]["body"]["text"] == render.DEFAULT_PROMPT


def test_text_longer_than_button_body_is_sent_first() -> None:
    text = " ".join(["word"] * 400)  # 1,999 characters: too long for a button body (1,024)
    out = render.render({"text": text, "buttons": buttons(2)})
    assert [b["type"] for b in out] == ["text", "interactive"]
    assert len(out[1]["interactive"]["body"]["text"]) <= 1024
    joined = out[0]["text"]["body"] + " " + out[1]["interactive"]["body"]["text"]
    assert joined == text


@pytest.mark.parametrize("n", [4, 7, 10])
def test_four_to_ten_buttons_are_a_list(n: int) -> None:
    (body,) = render.render({"text": "Menu", "buttons": buttons(n, "A rather long option title")})
    interactive = body["interactive"]
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert len(rows) == n and [r["id"] for r in rows] == [b["payload"] for b in buttons(n)]
    assert all(len(r["title"]) <= 24 for r in rows) and len({r["title"] for r in rows}) == n
    assert rows[0]["description"] == "A rather long option title 1"  # full title kept
    assert len(interactive["action"]["button"]) <= 20


def test_more_than_ten_buttons_are_numbered_text() -> None:
    (body,) = render.render({"text": "Pick", "buttons": buttons(12)})
    assert body["type"] == "text"
    lines = body["text"]["body"].split("\n")
    assert lines[0] == "Pick" and lines[2] == "1. Option 1" and lines[-1] == "12. Option 12"


def test_payload_too_long_for_an_id_degrades_to_numbered_text() -> None:
    (body,) = render.render({"text": "Pick", "buttons": [{"title": "A", "payload": "/x" + "y" * 300}]})
    assert body["type"] == "text" and "1. A" in body["text"]["body"]


def test_url_buttons_become_links() -> None:
    out = render.render({"text": "Docs", "buttons": [{"title": "Site", "url": "https://ex.com", "type": "web_url"},
                                                     {"title": "Ok", "payload": "/ok"}]})
    (body,) = out
    assert body["interactive"]["body"]["text"] == "Docs\nSite: https://ex.com"
    (only,) = render.render({"buttons": [{"title": "Site", "url": "https://ex.com"}]})
    assert only["text"]["body"] == "Site: https://ex.com"


def test_image_and_attachments() -> None:
    out = render.render({"text": "Look", "image": "https://ex.com/a.png"})
    assert [b["type"] for b in out] == ["text", "image"] and out[1]["image"] == {"link": "https://ex.com/a.png"}
    (doc,) = render.render({"attachment": "https://ex.com/files/report.pdf"})
    assert doc["document"] == {"link": "https://ex.com/files/report.pdf", "filename": "report.pdf"}
    (video,) = render.render({"attachment": "https://ex.com/v.mp4"})
    assert video["type"] == "video"
    (audio,) = render.render({"attachment": {"type": "audio", "payload": {"url": "https://ex.com/a"}}})
    assert audio["audio"] == {"link": "https://ex.com/a"}
    (captioned,) = render.render({"attachment": {"type": "image", "url": "https://ex.com/i", "caption": "c"}})
    assert captioned["image"] == {"link": "https://ex.com/i", "caption": "c"}


def test_custom_passes_raw_payloads_through() -> None:
    template = {"type": "template", "template": {"name": "order_update", "language": {"code": "en"}},
                "to": "ignored"}
    (body,) = render.render({"custom": template})
    assert body["template"] == template["template"] and "to" not in body
    assert body["messaging_product"] == "whatsapp"
    cta = {"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "x"}}}
    assert [b["type"] for b in render.render({"text": "a", "custom": [cta, template]})] == ["text", "interactive",
                                                                                          "template"]
    with pytest.raises(InvalidRequest):
        render.render({"custom": {"foo": "bar"}})


def test_elements_degrade_to_text() -> None:
    (body,) = render.render({"elements": [
        {"title": "Shoe", "subtitle": "Red, size 7", "image_url": "https://ex.com/s.jpg",
         "buttons": [{"title": "Buy", "url": "https://ex.com/buy"}, {"title": "More", "payload": "/more"}]},
        {"title": "Boot"}]})
    assert body["text"]["body"] == ("*Shoe*\nRed, size 7\nhttps://ex.com/s.jpg\n- Buy: https://ex.com/buy\n- More"
                                    "\n\n*Boot*")


def test_render_all_keeps_order() -> None:
    out = render.render_all([{"text": "one"}, {"text": "two", "image": "https://ex.com/x.jpg"}])
    assert [b.get("text", {}).get("body") or b["type"] for b in out] == ["one", "two", "image"]


def test_fit() -> None:
    taken: set = set()
    assert render.fit("Short", 20, taken) == "Short"
    assert render.fit("Short", 20, taken) == "Short (2)"
    assert len(render.fit("x" * 50, 20)) == 20

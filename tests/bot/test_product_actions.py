"""Sizes, stock and delivery estimates (no stores involved)."""
from __future__ import annotations

import pytest

from bot.actions import sizes

from .conftest import tracker, user

pytestmark = pytest.mark.bot
WA = "919800000077"


@pytest.mark.parametrize("raw, expected", [
    ("UK 8", ("UK", 8.0)), ("size 9", ("UK", 9.0)), ("9 number", ("UK", 9.0)), ("EU42", ("EU", 42.0)),
    ("us-10.5", ("US", 10.5)), ("i wear US 9", ("US", 9.0)), ("size 40", None), ("", None),
])
def test_parse_size(raw, expected):
    size = sizes.parse(raw)
    assert (size.system, size.value) == expected if expected else size is None


def test_conversions():
    assert sizes.to_uk(sizes.Size("US", 10)) == 9 and sizes.to_uk(sizes.Size("US", 10), women=True) == 8
    assert sizes.to_uk(sizes.Size("EU", 42)) == 8 and sizes.to_eu(8) == 42


async def test_size_help_converts_the_given_size(run_action):
    events = [user("convert US 10", "size_help", [{"entity": "shoe_size", "value": "US 10"}])]
    text = (await run_action("action_size_help", tracker(WA, events)))["responses"][0]["text"]
    assert "UK 9" in text and "EU 43" in text


async def test_size_help_without_a_size_shows_the_chart(run_action):
    text = (await run_action("action_size_help", tracker(WA, [user("size chart", "size_help")])))["responses"][0]["text"]
    assert "US men = UK + 1" in text


async def test_availability_sold_out_and_in_stock(run_action):
    ents = [{"entity": "product", "value": "chalo runners"}, {"entity": "shoe_size", "value": "uk 9"}]
    text = (await run_action("action_check_availability",
                             tracker(WA, [user("chalo runners uk 9?", "product_availability", ents)])))["responses"][0]["text"]
    assert "sold out" in text and "Chalo Runner" in text
    events = [user("uk 8", "inform", [{"entity": "shoe_size", "value": "uk 8"}])]
    text = (await run_action("action_handle_inform",
                             tracker(WA, events, slots={"product": "Chalo Runner", "shoe_size": "uk 8"})))["responses"][0]["text"]
    assert text.startswith("Yes! Chalo Runner in UK 8 is in stock")


async def test_delivery_estimate_by_pincode(run_action):
    events = [user("560038", "inform", [{"entity": "pincode", "value": "560038"}])]
    result = await run_action("action_delivery_estimate", tracker(WA, events, slots={"pincode": "560038"}))
    assert "2-3 working days" in result["responses"][0]["text"]
    remote = [user("781001", "inform", [{"entity": "pincode", "value": "781001"}])]
    text = (await run_action("action_delivery_estimate", tracker(WA, remote, slots={"pincode": "781001"})))["responses"][0]["text"]
    assert "6-9" in text and "no COD" in text

"""Phone numbers: anything a person types -> E.164, and E.164 -> the Cloud API's wa_id."""
from __future__ import annotations

import phonenumbers

from .errors import InvalidInput


def normalize(raw: str, region: str = "IN") -> str:
    """E.164 (``+919812345678``) of ``raw``; InvalidInput with a reason when it is not a number."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("missing phone")
    if text.isdigit() and len(text) > 10:  # digits with a country code but no '+' (wa_id form)
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"unparseable phone {raw!r}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"invalid phone {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_id(e164: str) -> str:
    """The wa_id of an E.164 number: digits only."""
    return e164.lstrip("+")


def country_code(wa: str) -> str:
    """Calling code of a wa_id (``"91"``), for the price table."""
    try:
        return str(phonenumbers.parse("+" + wa.lstrip("+")).country_code)
    except phonenumbers.NumberParseException:
        return ""

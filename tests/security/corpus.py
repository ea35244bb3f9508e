"""Hostile inputs shared by the security tests: markup that must stay text, and a seeded
generator of JSON-ish webhook bodies for the environments without hypothesis (the bot env)."""
from __future__ import annotations

import copy
import json
import random
from typing import Any, Iterator, List

#: Strings a customer, a marketer's CSV or an integrator could send; each must render as text.
XSS: List[str] = [
    "<img src=x onerror=alert('XSS-img')>",
    "\"><script>alert('XSS-script')</script>",
    "javascript:alert('XSS-js')",
    "<svg/onload=alert('XSS-svg')>",
    "'><iframe src=javascript:alert('XSS-iframe')>",
]
XSS_MARK = "XSS-"

#: Scalars that trip naive parsers: huge numbers, non-finite floats, lone surrogates, NULs.
NASTY_SCALARS: List[Any] = [
    None, True, False, 0, -1, 2 ** 64, 10 ** 400, 1e308, float("inf"), float("-inf"), float("nan"),
    "", " ", "\x00", "\ud800", "\udfff", "\u202e", "😀", "a" * 5000, "1e400", "NaN", "-0", [], {}, [[]], {"": {}},
]

_FIELDS = ["messages", "statuses", "smb_message_echoes", "user_preferences", "message_template_status_update",
           "account_update", "x"]
_KEYS = ["object", "entry", "id", "time", "changes", "field", "value", "metadata", "phone_number_id", "contacts",
         "profile", "name", "wa_id", "messages", "statuses", "errors", "from", "type", "timestamp", "text", "body",
         "interactive", "button_reply", "list_reply", "nfm_reply", "button", "payload", "image", "caption",
         "location", "latitude", "longitude", "context", "status", "recipient_id", "pricing", "code", "title",
         "error_data", "details", "message_echoes", "to", "user_preferences", "value", "category", "message_template_id",
         "event", "reason", "user_id", "from_user_id"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON-ish value, biased towards Meta's keys so deep paths of the parser are reached."""
    roll = rng.random()
    if depth > 5 or roll < 0.35:
        return copy.deepcopy(rng.choice(NASTY_SCALARS + [rng.randint(-10 ** 12, 10 ** 12), rng.random(),
                                           "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 8)))]))
    if roll < 0.6:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(_KEYS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def random_webhook(rng: random.Random) -> Any:
    """A body shaped like a webhook (entry/changes/value) with random contents."""
    value = random_value(rng, 2)
    if isinstance(value, dict) and rng.random() < 0.7:
        value["messages"] = [random_value(rng, 3) if rng.random() < 0.3 else
                             {"from": random_value(rng, 5), "id": random_value(rng, 5),
                              "type": rng.choice(["text", "image", "location", "button", "interactive", "order",
                                                  "system", "reaction", "zzz"]),
                              "text": random_value(rng, 4), "image": random_value(rng, 4),
                              "location": random_value(rng, 4), "interactive": random_value(rng, 4),
                              "button": random_value(rng, 4), "timestamp": random_value(rng, 5),
                              "context": random_value(rng, 4)}
                             for _ in range(rng.randint(0, 3))]
    change = {"field": rng.choice(_FIELDS), "value": value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": random_value(rng, 5), "time": random_value(rng, 5), "changes": [change]}]}


def dumps(doc: Any, rng: random.Random) -> bytes:
    """Serialise like Meta (\\u escapes, ASCII) or as raw UTF-8; lone surrogates only survive escaped."""
    if rng.random() < 0.5:
        return json.dumps(doc).encode()
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def random_bodies(seed: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        kind = rng.random()
        if kind < 0.6:
            yield dumps(random_webhook(rng), rng)
        elif kind < 0.8:
            yield dumps(random_value(rng), rng)
        else:
            yield bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 64)))

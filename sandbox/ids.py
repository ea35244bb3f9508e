"""Identifiers that look like Meta's: wamids, media ids, template ids."""
from __future__ import annotations

import base64
import secrets
import time


def wamid(wa_id: str) -> str:
    """A message id shaped like Meta's: base64 of a small header, the user's number and random bytes."""
    number = wa_id.encode()[:40]
    raw = (
        b"\x1c\x18"
        + bytes([len(number)])
        + number
        + b"\x15\x02\x00\x11\x18\x12"
        + secrets.token_hex(9).upper().encode()
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode()


def numeric_id() -> str:
    """A 15-16 digit Graph object id (media, templates)."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


def unix_now() -> int:
    return int(time.time())

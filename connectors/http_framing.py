"""A request-framing guard for Rasa's Sanic 21.12 (pinned by Rasa 3.6).

Sanic 21.12 reads the body by ``int(Content-Length)`` without checking it: a negative value
makes its body reader spin forever on the event loop, so one unauthenticated request freezes the
whole Rasa server (every customer's bot, the webhook, health checks); a non-numeric value is a
500. Sanic dispatches the ``http.lifecycle.request`` signal after parsing the headers and before
reading the length, so a handler there can refuse the request first: Sanic answers 400 and
closes the connection. Registered on the connector's blueprint, it applies to every route of
the server (Sanic makes blueprint signals non-exclusive), Rasa's own included.
"""
from __future__ import annotations

from typing import Any

from sanic.exceptions import InvalidUsage

LIFECYCLE_REQUEST = "http.lifecycle.request"


def valid_content_length(value: str) -> bool:
    """RFC 9110: 1*DIGIT (ASCII digits only; no sign, no spaces, no other numerals)."""
    return value.isascii() and value.isdigit()


def refuse_bad_content_length(blueprint: Any) -> None:
    """Make the server answer 400 to any request whose Content-Length is not a plain number."""

    @blueprint.signal(LIFECYCLE_REQUEST)
    async def check_framing(request: Any, **_: Any) -> None:
        values = request.headers.getall("content-length", [])
        if any(not valid_content_length(v.strip()) for v in values) or len(set(values)) > 1:
            raise InvalidUsage("Bad Request: invalid Content-Length")

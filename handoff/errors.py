"""The handoff error tree. HTTP-facing errors carry their status code.

    HandoffError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)
    ├── Forbidden (403)
    │   └── CsrfRefused (403)
    ├── NotFound (404)
    ├── ConflictError (409)          another actor changed the ticket first
    │   └── InvalidTransition (409)  the move is not in the transition table
    ├── ReplyRefused (422)           the sender refused (window closed, opted out, ...)
    ├── TooManyRequests (429)
    └── UpstreamError (502)          WhatsApp / Rasa failed
"""
from __future__ import annotations

from typing import Any, Dict, Optional


class HandoffError(Exception):
    status = 500
    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: Dict[str, Any] = details

    def to_json(self) -> Dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class BadRequest(HandoffError):
    status, code = 400, "bad_request"


class Unauthorized(HandoffError):
    status, code = 401, "unauthorized"


class Forbidden(HandoffError):
    status, code = 403, "forbidden"


class CsrfRefused(Forbidden):
    code = "csrf"


class NotFound(HandoffError):
    status, code = 404, "not_found"


class ConflictError(HandoffError):
    status, code = 409, "conflict"


class InvalidTransition(ConflictError):
    code = "invalid_transition"


class ReplyRefused(HandoffError):
    status, code = 422, "reply_refused"


class TooManyRequests(HandoffError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: Optional[int] = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class UpstreamError(HandoffError):
    status, code = 502, "upstream"

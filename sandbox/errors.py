"""The sandbox's error tree and Meta's Cloud API error catalog.

    SandboxError
     +-- GraphError   a Cloud API error: answered in Meta's shape (``{"error": {...}}``)
     +-- AdminError   a bad call to the /_sandbox admin API: ``{"error": {"message": ...}}``

``CATALOG`` maps a Cloud API code to its title, default details and HTTP status (Meta's older
table, reference section 4.9/5). ``status_error`` builds the ``errors[]`` entry of a failed
status webhook for the same code.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

ERROR_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"


@dataclass(frozen=True)
class ErrorSpec:
    """One Cloud API error code."""

    title: str
    details: str
    http_status: int = 400


CATALOG: dict[int, ErrorSpec] = {
    1: ErrorSpec("An unknown error occurred", "Invalid request or possible server error.", 500),
    2: ErrorSpec("Service temporarily unavailable", "Temporary due to downtime or due to being overloaded.", 503),
    100: ErrorSpec("Invalid parameter", "Invalid parameter."),
    190: ErrorSpec("Invalid OAuth access token - Cannot parse access token", "Access token is invalid.", 401),
    130429: ErrorSpec("Rate limit hit", "Cloud API message throughput has been reached."),
    131000: ErrorSpec("Something went wrong", "Message failed to send because of an unknown error.", 500),
    131008: ErrorSpec("Required parameter is missing", "A required parameter is missing."),
    131009: ErrorSpec("Parameter value is not valid", "One or more parameter values are invalid."),
    131021: ErrorSpec("Recipient cannot be sender", "Sender and recipient phone number is the same."),
    131026: ErrorSpec("Message undeliverable", "Message Undeliverable."),
    131047: ErrorSpec(
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131049: ErrorSpec(
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: ErrorSpec(
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp "
        "from your business.",
        "The user has stopped marketing messages from this business.",
    ),
    131051: ErrorSpec("Unsupported message type", "Message type is currently not supported."),
    131053: ErrorSpec("Media upload error", "Unable to retrieve the media for this message."),
    131056: ErrorSpec(
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a short "
        "period of time.",
    ),
    132000: ErrorSpec(
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values does not match the number of variables in the template.",
    ),
    132001: ErrorSpec(
        "Template name does not exist in the translation",
        "The template does not exist in this language or has not been approved.",
        404,
    ),
    132012: ErrorSpec(
        "Parameter format does not match format in the created template",
        "Variable parameter values are formatted incorrectly.",
    ),
    132015: ErrorSpec("Template is Paused", "The template is paused due to low quality and cannot be sent."),
    132016: ErrorSpec("Template is Disabled", "The template has been permanently disabled due to low quality."),
    133010: ErrorSpec("Account not registered", "The phone number is not registered on the WhatsApp Business Platform."),
}


def fbtrace_id() -> str:
    """A random trace id like Meta's (``Az8or2yhqkZfEZ-_4Qn_Bam``)."""
    return secrets.token_urlsafe(17)[:23]


class SandboxError(Exception):
    """Root of every error the sandbox raises on purpose."""


class GraphError(SandboxError):
    """A synchronous Cloud API error, answered as Meta answers it."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        http_status: int | None = None,
        subcode: int | None = None,
        message: str | None = None,
    ) -> None:
        spec = CATALOG.get(code, CATALOG[100])
        self.code = code
        self.details = details or spec.details
        self.http_status = http_status or spec.http_status
        self.subcode = subcode
        self.message = message or f"(#{code}) {spec.title}"
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON body Meta answers with (reference section 4.9)."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def token_error(details: str) -> GraphError:
    """Code 190: Meta's message for a bad token has no ``(#190)`` prefix."""
    return GraphError(190, details, message="Invalid OAuth access token - Cannot parse access token")


def unknown_object(object_id: str, method: str = "post") -> GraphError:
    """Meta's answer for an id that does not exist (code 100, subcode 33)."""
    return GraphError(
        100,
        f"Object with ID '{object_id}' does not exist, cannot be loaded due to missing permissions, "
        "or does not support this operation.",
        subcode=33,
        message=f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
    )


def status_error(code: int, details: str | None = None) -> dict[str, Any]:
    """The ``errors[]`` entry of a ``failed`` status webhook (reference section 3)."""
    spec = CATALOG.get(code, CATALOG[131000])
    return {
        "code": code,
        "title": spec.title,
        "message": spec.title,
        "error_data": {"details": details or spec.details},
        "href": ERROR_HREF,
    }


class AdminError(SandboxError):
    """A bad call to the sandbox's own /_sandbox API."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        self.message = message
        self.http_status = http_status
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "SandboxError", "code": self.http_status}}

"""Parley's WhatsApp kit: webhook verification and parsing, the inbound pipeline, and the one
send path. Framework-free; ``connectors.rasa_channel`` is the only module importing rasa/sanic
(import it by path, it is not re-exported here).

Names are loaded lazily so ``from connectors import keys`` stays cheap in every process.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # inbound
    "check_signature": "signature", "sign": "signature", "verify_challenge": "signature",
    "SignatureCheck": "signature",
    "parse": "webhook", "MalformedWebhook": "webhook",
    "Notification": "notification", "InboundMessage": "notification", "MessageType": "notification",
    "Status": "notification", "StatusValue": "notification",
    "GroupCommitAppender": "ingest", "receive": "ingest",
    "BotInput": "mapping", "Router": "routing", "Consumer": "consumer", "ConsumerOptions": "consumer",
    # shared model
    "Event": "events", "Owner": "ownership", "Ownership": "ownership",
    # outbound: client and payloads
    "GraphClient": "client", "AiohttpTransport": "client", "HttpxTransport": "client",
    "render": "render", "render_all": "render",
    # outbound: the send path and its rules
    "Sender": "sender", "Purpose": "sender", "SendResult": "sender", "RateLimits": "ratelimit",
    "refresh_window": "window", "window_open": "window", "window_expires_at": "window",
    "ConsentChecker": "consent", "AllowAll": "consent", "RedisConsent": "consent",
    "mark_opted_out": "consent", "mark_opted_in": "consent",
    # errors (the tree is drawn in connectors/errors.py)
    "WhatsAppError": "errors", "RateLimited": "errors", "PairRateLimited": "errors",
    "ServiceUnavailable": "errors", "TransportError": "errors", "WindowClosed": "errors",
    "TemplateError": "errors", "Undeliverable": "errors", "MarketingOptedOut": "errors",
    "EcosystemLimited": "errors", "AuthError": "errors", "AccountBlocked": "errors",
    "InvalidRequest": "errors", "ConsentRefused": "errors", "UnknownError": "errors",
    "from_graph_error": "errors", "from_status_errors": "errors", "RetryPolicy": "errors",
}
#: Submodules exported as such (``connectors.payloads.text(...)``).
_MODULES = frozenset({"payloads", "keys", "events"})

__all__ = sorted(set(_EXPORTS) | _MODULES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"connectors.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'connectors' has no attribute {name!r}")
    return getattr(importlib.import_module(f"connectors.{module}"), name)

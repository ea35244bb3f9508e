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
    "parse": "webhook", "MalformedWebhook": "webhook", "Notification": "webhook", "InboundMessage": "webhook",
    "MessageType": "webhook", "Status": "webhook", "StatusValue": "webhook",
    "GroupCommitAppender": "ingest", "receive": "ingest",
    "BotInput": "mapping", "Router": "routing", "Consumer": "consumer", "ConsumerOptions": "consumer",
    # shared model
    "Event": "events", "Owner": "ownership", "Ownership": "ownership",
    # outbound
    "GraphClient": "client", "Sender": "sender", "Purpose": "sender", "SendResult": "sender",
    "render": "render", "refresh_window": "window", "window_open": "window",
    "WhatsAppError": "errors", "WindowClosed": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'connectors' has no attribute {name!r}")
    return getattr(importlib.import_module(f"connectors.{module}"), name)

"""Webhook signatures (Stripe-style): HMAC-SHA256 of ``"{timestamp}.{body}"`` with the
subscription's secret, sent as ``X-Parley-Signature: sha256=<hex>`` next to ``X-Parley-Timestamp``.
Signing the timestamp lets receivers refuse replays of old deliveries."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Dict

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time); freshness of ``timestamp`` is the receiver's call."""
    try:
        expected = signature(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, header or "")


def headers(secret: str, timestamp: int, body: bytes, event_type: str, delivery_id: str) -> Dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Parley-Webhooks/1",
        "X-Parley-Event": event_type,
        "X-Parley-Delivery": delivery_id,
        "X-Parley-Timestamp": str(timestamp),
        "X-Parley-Signature": signature(secret, timestamp, body),
    }

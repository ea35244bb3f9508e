"""Webhook authenticity: the ``X-Hub-Signature-256`` check and the GET verification handshake.

Plain functions over bytes and strings, so the Rasa channel, the benchmarks and the sandbox
share one implementation. Both comparisons are constant time.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
from typing import Mapping, Optional

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


class SignatureCheck(enum.Enum):
    """Outcome of :func:`check_signature`; the HTTP status the receiver answers with."""

    VALID = 200
    MISSING = 401
    INVALID = 403


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for ``body``: ``sha256=<lowercase hex HMAC-SHA256>``."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(app_secret: str, body: bytes, header: Optional[str]) -> SignatureCheck:
    """Check ``header`` against the HMAC of the raw ``body`` bytes (never re-serialised JSON)."""
    if not header:
        return SignatureCheck.MISSING
    expected = sign(app_secret, body)
    # Compare the full "sha256=..." strings: a header without the prefix is simply wrong.
    # "replace": Sanic hands undecodable header bytes over as lone surrogates; they never match.
    if hmac.compare_digest(expected.encode(), header.strip().lower().encode("utf-8", "replace")):
        return SignatureCheck.VALID
    return SignatureCheck.INVALID


def verify_challenge(query: Mapping[str, str], verify_token: str) -> Optional[str]:
    """The ``hub.challenge`` to echo when the handshake is valid, else None (answer 403).

    ``query`` maps parameter names to single values; ``hub_mode``-style names (frameworks that
    rename dots) are accepted too.
    """
    def get(name: str) -> str:
        return query.get(f"hub.{name}") or query.get(f"hub_{name}") or ""

    token = get("verify_token")
    if get("mode") != "subscribe" or not token or not verify_token:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return get("challenge")

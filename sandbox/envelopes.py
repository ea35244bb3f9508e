"""Webhook bodies in Meta's shape (reference 1.3, 2, 3, 7.3, 8), and their signature.

A ``Notification`` is one ``changes[]`` item; ``envelope`` wraps one or more of them, merging
``messages``-field values (several statuses or messages in one value) when batching.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Notification:
    """One change: ``field`` and ``value``; ``time`` is set for non-message fields (entry.time)."""

    field: str
    value: dict[str, Any]
    time: int | None = None


def metadata(display_phone_number: str, phone_number_id: str) -> dict[str, str]:
    return {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}


def contact(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def messages(meta: dict[str, str], message: dict[str, Any], contact_card: dict[str, Any]) -> Notification:
    return Notification("messages", {
        "messaging_product": "whatsapp", "metadata": meta, "contacts": [contact_card], "messages": [message],
    })


def statuses(meta: dict[str, str], status: dict[str, Any]) -> Notification:
    return Notification("messages", {"messaging_product": "whatsapp", "metadata": meta, "statuses": [status]})


def envelope(waba_id: str, notifications: Sequence[Notification]) -> dict[str, Any]:
    """One POST body; ``messages`` values with the same metadata are merged (batching)."""
    changes: list[dict[str, Any]] = []
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    times = [n.time for n in notifications if n.time is not None]
    for notification in notifications:
        value = notification.value
        if notification.field == "messages":
            kind = "statuses" if "statuses" in value else "messages"
            key = (kind, value["metadata"]["phone_number_id"], value["metadata"]["display_phone_number"])
            target = merged.get(key)
            if target is None:
                target = merged[key] = {k: (list(v) if isinstance(v, list) else v) for k, v in value.items()}
                changes.append({"value": target, "field": "messages"})
                continue
            target[kind].extend(value[kind])
            if kind == "messages":
                known = {card["wa_id"] for card in target["contacts"]}
                target["contacts"].extend(card for card in value["contacts"] if card["wa_id"] not in known)
        else:
            changes.append({"value": value, "field": notification.field})
    entry: dict[str, Any] = {"id": waba_id}
    if times:
        entry["time"] = max(times)
    entry["changes"] = changes
    return {"object": "whatsapp_business_account", "entry": [entry]}


def encode(body: dict[str, Any]) -> bytes:
    """Bytes as Meta sends them: compact JSON, non-ASCII escaped as lowercase ``\\uXXXX``."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def sign(app_secret: str, raw: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``raw``."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()

"""Status planning and the status objects of webhooks (reference 3, 10).

``plan`` turns an accepted message into timed statuses: ``sent`` -> ``delivered`` -> ``read``
(read with ``read_probability``), only ``sent`` for reactions, a single ``failed`` for a
failure; chaos ``reorder`` emits ``read`` before ``delivered``, ``read`` without
``delivered``, or ``delivered`` before ``sent``. Each planned status keeps its true time
(the webhook ``timestamp``) apart from when it is emitted.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from .config import RuntimeConfig
from .errors import status_error
from .store import OutboundMessage


@dataclass(frozen=True)
class PlannedStatus:
    emit_after_s: float
    status: str
    happened_after_s: float
    error_code: int | None = None
    pricing: bool = False


def plan(message: OutboundMessage, failure: int | None, config: RuntimeConfig, rng: random.Random) -> list[PlannedStatus]:
    """When each status of ``message`` is emitted, and when it (really) happened."""
    sent_s, delivered_s, read_s = (delay / 1000 for delay in config.status_delays_ms)
    if failure is not None:
        return [PlannedStatus(sent_s, "failed", sent_s, failure)]
    if message.type == "reaction":
        return [PlannedStatus(sent_s, "sent", sent_s, pricing=True)]
    delivered_at = sent_s + delivered_s
    read_at = delivered_at + read_s
    reads = rng.random() < config.read_probability
    sent = PlannedStatus(sent_s, "sent", sent_s, pricing=True)
    delivered = PlannedStatus(delivered_at, "delivered", delivered_at, pricing=True)
    read = PlannedStatus(read_at, "read", read_at)
    if not (config.chaos.reorder and rng.random() < config.chaos.reorder):
        return [sent, delivered, read] if reads else [sent, delivered]
    if not reads:
        return [PlannedStatus(delivered_at, "sent", sent_s, pricing=True),
                PlannedStatus(sent_s, "delivered", delivered_at, pricing=True)]
    if rng.random() < 0.5:
        return [sent, PlannedStatus(read_at, "read", read_at, pricing=True)]
    return [sent, PlannedStatus(read_at, "delivered", delivered_at, pricing=True),
            PlannedStatus(delivered_at, "read", read_at)]


def status_object(message: OutboundMessage, planned: PlannedStatus) -> dict[str, Any]:
    """The ``statuses[]`` entry for ``planned``."""
    status: dict[str, Any] = {
        "id": message.wamid,
        "status": planned.status,
        "timestamp": str(int(message.at + planned.happened_after_s)),
        "recipient_id": message.to,
    }
    if message.callback_data is not None:
        status["biz_opaque_callback_data"] = message.callback_data
    if planned.error_code is not None:
        status["errors"] = [status_error(planned.error_code)]
        return status
    if planned.pricing:
        if _before_v24(message.api_version):
            status["conversation"] = _conversation(message, planned.status == "sent")
        status["pricing"] = pricing(message.pricing_category)
    return status


def pricing(category: str) -> dict[str, Any]:
    """PMP pricing: ``service`` and in-window utility are free, other templates are ``regular``."""
    kind, real_category = category.split(":") if ":" in category else ("regular", category)
    return {"billable": kind == "regular", "pricing_model": "PMP", "type": kind, "category": real_category}


def pricing_category(template_category: str | None, window_open: bool) -> str:
    """``type:category`` decided at send time (the category at the time of sending counts)."""
    if template_category is None:
        return "free_customer_service:service"
    category = template_category.lower()
    if category == "utility" and window_open:
        return "free_customer_service:utility"
    return f"regular:{category}"


def _before_v24(version: str) -> bool:
    try:
        return float(version.lstrip("v")) < 24
    except ValueError:
        return False


def _conversation(message: OutboundMessage, with_expiry: bool) -> dict[str, Any]:
    category = message.pricing_category.split(":")[-1]
    day = int(message.at // 86400)
    conversation: dict[str, Any] = {
        "id": hashlib.md5(f"{message.to}:{category}:{day}".encode()).hexdigest(),
        "origin": {"type": category},
    }
    if with_expiry:
        conversation["expiration_timestamp"] = str(int(message.at) + 86400)
    return conversation

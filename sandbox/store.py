"""In-memory state: customers and what their phones show, the outbox, inbound messages, media.

Everything is bounded by ``history_limit`` (oldest entries go first) so a long benchmark
cannot grow the process without limit.
"""
from __future__ import annotations

import base64
import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Union

from . import ids

STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass
class OutboundMessage:
    """A message the business sent (what ``GET /_sandbox/outbox`` lists)."""

    wamid: str
    to: str
    type: str
    payload: dict[str, Any]
    at: float
    phone_number_id: str
    api_version: str
    pricing_category: str
    template_components: list[dict[str, Any]] | None = None
    template_named: bool = False
    status: str = "accepted"
    errors: list[dict[str, Any]] = field(default_factory=list)
    history: list[tuple[str, float]] = field(default_factory=list)

    @property
    def callback_data(self) -> str | None:
        value = self.payload.get("biz_opaque_callback_data")
        return value if isinstance(value, str) else None

    def apply_status(self, status: str, at: float, errors: list[dict[str, Any]] | None = None) -> None:
        """Record a status; the visible status never moves backwards (failed is terminal)."""
        self.history.append((status, at))
        if errors:
            self.errors = errors
        if self.status != "failed" and STATUS_RANK.get(status, 0) > STATUS_RANK.get(self.status, 0):
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {
            "wamid": self.wamid, "to": self.to, "type": self.type, "payload": self.payload,
            "status": self.status, "errors": self.errors, "at": self.at,
            "statuses": [{"status": status, "at": at} for status, at in self.history],
        }


@dataclass
class InboundMessage:
    """A message a virtual customer sent (the webhook's ``messages[]`` entry)."""

    wamid: str
    wa_id: str
    type: str
    message: dict[str, Any]
    at: float
    read: bool = False
    typing: bool = False


ConversationEntry = Union[OutboundMessage, InboundMessage]


@dataclass
class Customer:
    wa_id: str
    name: str
    created_at: float
    conversation: deque[ConversationEntry] = field(default_factory=deque)


@dataclass(frozen=True)
class Media:
    id: str
    mime_type: str
    data: bytes
    filename: str | None
    created_at: float

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha256_b64(self) -> str:
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


class Store:
    """All the sandbox's message state. ``version`` grows on every change (cheap polling)."""

    def __init__(self, history_limit: int) -> None:
        self.limit = max(100, history_limit)
        self.customers: dict[str, Customer] = {}
        self.outbox: dict[str, OutboundMessage] = {}
        self.inbound: dict[str, InboundMessage] = {}
        self.media: dict[str, Media] = {}
        self.version = 0

    def clear(self) -> None:
        self.customers.clear()
        self.outbox.clear()
        self.inbound.clear()
        self.media.clear()
        self.version += 1

    def customer(self, wa_id: str, now: float, name: str | None = None) -> Customer:
        """Get or create the virtual customer; a given name replaces the stored one."""
        customer = self.customers.get(wa_id)
        if customer is None:
            customer = Customer(wa_id, name or f"Customer {wa_id[-4:]}", now,
                                deque(maxlen=min(self.limit, 2000)))
            self.customers[wa_id] = customer
            self.version += 1
        elif name:
            customer.name = name
        return customer

    def add_outbound(self, message: OutboundMessage) -> None:
        self.outbox[message.wamid] = message
        if len(self.outbox) > self.limit:
            del self.outbox[next(iter(self.outbox))]
        self.customer(message.to, message.at).conversation.append(message)
        self.version += 1

    def add_inbound(self, message: InboundMessage, name: str | None) -> None:
        self.inbound[message.wamid] = message
        if len(self.inbound) > self.limit:
            del self.inbound[next(iter(self.inbound))]
        self.customer(message.wa_id, message.at, name).conversation.append(message)
        self.version += 1

    def add_media(self, mime_type: str, data: bytes, filename: str | None, now: float) -> Media:
        media = Media(ids.numeric_id(), mime_type, data, filename, now)
        self.media[media.id] = media
        if len(self.media) > self.limit:
            del self.media[next(iter(self.media))]
        return media

    def outbound_list(self, to: str | None = None) -> list[OutboundMessage]:
        return [message for message in self.outbox.values() if to is None or message.to == to]

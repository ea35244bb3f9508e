"""What a Cloud API webhook carries, as typed, immutable values (built by connectors.webhook.parse).

Enums parsed from Meta have an ``UNKNOWN`` member, so a new message type or status value never
crashes parsing; the raw string is kept beside it (``raw_type``, ``raw_status``).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


class _Parsed(str, enum.Enum):
    @classmethod
    def parse(cls, value: Any):  # type: ignore[no-untyped-def]
        try:
            return cls(value)
        except ValueError:
            return cls("unknown")


class MessageType(_Parsed):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    BUTTON = "button"
    INTERACTIVE = "interactive"
    ORDER = "order"
    SYSTEM = "system"
    UNSUPPORTED = "unsupported"
    REVOKE = "revoke"
    EDIT = "edit"
    UNKNOWN = "unknown"


MEDIA_TYPES = frozenset(
    {MessageType.IMAGE, MessageType.VIDEO, MessageType.AUDIO, MessageType.DOCUMENT, MessageType.STICKER}
)


class StatusValue(_Parsed):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ErrorInfo:
    code: int
    title: str
    message: str = ""
    details: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"code": self.code, "title": self.title, "details": self.details}


@dataclass(frozen=True)
class Media:
    id: str
    mime_type: str
    caption: str = ""
    filename: str = ""
    sha256: str = ""
    voice: bool = False


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str = ""
    address: str = ""
    url: str = ""


@dataclass(frozen=True)
class Reply:
    """A tap: ``kind`` is ``button`` (template quick reply), ``button_reply``, ``list_reply`` or ``nfm_reply``."""

    kind: str
    payload: str
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class InboundMessage:
    wamid: str
    wa_id: str
    phone_number_id: str
    type: MessageType
    raw_type: str
    timestamp: int
    name: str = ""
    user_id: str = ""
    text: str = ""
    reply: Optional[Reply] = None
    media: Optional[Media] = None
    location: Optional[Location] = None
    context_id: str = ""
    errors: Tuple[ErrorInfo, ...] = ()
    raw: Dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Status:
    wamid: str
    status: StatusValue
    raw_status: str
    recipient_id: str
    phone_number_id: str
    timestamp: int
    errors: Tuple[ErrorInfo, ...] = ()
    biz_opaque_callback_data: str = ""
    pricing: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Echo:
    """A message a human sent from the WhatsApp Business app (``smb_message_echoes``)."""

    wamid: str
    to: str
    phone_number_id: str
    type: str
    timestamp: int
    raw: Dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Preference:
    """A ``user_preferences`` item: ``value`` is ``stop``, ``resume`` (or ``signup``)."""

    wa_id: str
    value: str
    category: str
    detail: str
    timestamp: int
    phone_number_id: str


@dataclass(frozen=True)
class ChangeError:
    """A top-level ``value.errors`` item (system or app level problem)."""

    phone_number_id: str
    error: ErrorInfo


@dataclass(frozen=True)
class FieldChange:
    """Any other field (template status/quality/category, account and number updates...)."""

    field: str
    waba_id: str
    time: int
    value: Dict[str, Any]


@dataclass
class Notification:
    """Everything one webhook body carried, in body order within each list."""

    messages: List[InboundMessage] = field(default_factory=list)
    statuses: List[Status] = field(default_factory=list)
    errors: List[ChangeError] = field(default_factory=list)
    echoes: List[Echo] = field(default_factory=list)
    preferences: List[Preference] = field(default_factory=list)
    changes: List[FieldChange] = field(default_factory=list)

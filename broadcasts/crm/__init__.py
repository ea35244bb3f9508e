"""Signed outbound webhooks for CRMs: campaign lifecycle and campaign delivery events.

``CrmWebhooks`` (subscriptions + outbox + background loops), ``signature``/``verify`` (the
signing rule receivers check). See broadcasts/README.md, "CRM webhooks".
"""
from .catalog import EVENT_TYPES
from .outbox import DeliveryState
from .signing import signature, verify
from .webhooks import CrmWebhooks

__all__ = ["CrmWebhooks", "DeliveryState", "EVENT_TYPES", "signature", "verify"]

"""The CRM webhooks feature as one object: its two stores and its two background loops."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Tuple

from ..settings import Settings
from .dispatcher import Dispatcher
from .outbox import Outbox
from .retry import RetryPolicy
from .sender import WebhookSender
from .subscriptions import SubscriptionStore


@dataclass
class CrmWebhooks:
    subscriptions: SubscriptionStore
    outbox: Outbox

    @classmethod
    def from_db(cls, db: Any) -> "CrmWebhooks":
        return cls(SubscriptionStore(db), Outbox(db))

    async def ensure_indexes(self) -> None:
        await self.subscriptions.ensure_indexes()
        await self.outbox.ensure_indexes()

    async def delete(self, webhook_id: str) -> bool:
        """Remove a subscription and its deliveries (pending ones are not sent)."""
        deleted = await self.subscriptions.delete(webhook_id)
        await self.outbox.drop_subscription(webhook_id)
        return deleted

    def loops(self, redis: Any, settings: Settings, name: str) -> List[Tuple[str, Any]]:
        """(label, object with ``run(stop)``) of the dispatcher and the sender."""
        policy = RetryPolicy(settings.crm_retry_schedule, settings.crm_max_attempts)
        return [
            ("crm dispatcher", Dispatcher(redis, self.subscriptions, self.outbox, name, settings.queue_reclaim_ms)),
            ("crm sender", WebhookSender(self.subscriptions, self.outbox, policy, timeout=settings.crm_timeout_seconds,
                                         concurrency=settings.crm_concurrency, per_endpoint=settings.crm_per_endpoint,
                                         poll=settings.crm_poll_seconds)),
        ]

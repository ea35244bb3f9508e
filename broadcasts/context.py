"""The service's clients and stores, opened once at startup and closed at shutdown."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorClient

from .campaigns.followups import FollowUps
from .campaigns.planner import Audience
from .campaigns.queue import CampaignQueue
from .campaigns.recipients import RecipientStore
from .campaigns.service import CampaignService
from .campaigns.store import CampaignStore
from .campaigns.tracker import Tracker
from .consent import ConsentLedger
from .contacts import ContactStore
from .crm import CrmWebhooks
from .segments import SegmentStore
from .settings import Settings
from .templates import TemplateLibrary


@dataclass
class Context:
    settings: Settings
    redis: Any
    mongo: Any
    db: Any
    contacts: ContactStore
    ledger: ConsentLedger
    segments: SegmentStore
    templates: TemplateLibrary
    campaigns: CampaignStore
    recipients: RecipientStore
    queue: CampaignQueue
    service: CampaignService
    tracker: Tracker
    followups: FollowUps
    graph: Any = None
    sender: Any = None
    webhooks: CrmWebhooks = None  # type: ignore[assignment]  # set by open()

    @classmethod
    async def open(cls, settings: Settings, *, graph: Any = None, sender: Any = None,
                   build_sender: bool = True) -> "Context":
        """Connect and build everything; ``build_sender`` makes the shared Sender from settings."""
        redis = aioredis.from_url(settings.redis_url, decode_responses=True)
        mongo = AsyncIOMotorClient(settings.mongo_url, tz_aware=True)
        db = mongo[settings.mongo_db]
        if graph is None and settings.access_token and settings.phone_number_id:
            from connectors.client import GraphClient
            graph = GraphClient.from_credentials(settings.access_token, settings.phone_number_id,
                                                 base_url=settings.graph_url, version="",
                                                 waba_id=settings.waba_id or None)
        contacts = ContactStore(db, settings.default_region)
        ledger = ConsentLedger(db, redis)
        campaigns = CampaignStore(db, redis)
        recipients = RecipientStore(db)
        queue = CampaignQueue(redis)
        segments = SegmentStore(db, contacts)
        templates = TemplateLibrary(db, graph)
        service = CampaignService(campaigns, recipients, queue, Audience(contacts, segments, recipients.col, settings),
                                  templates, owner=f"{settings.consumer_name}-service/{uuid.uuid4().hex[:8]}")
        templates.on_stop = service.pause_for_template
        if sender is None and build_sender and graph is not None:
            from connectors.ratelimit import RateLimits
            from connectors.sender import Sender
            sender = Sender(graph, redis, consent=ledger, limits=RateLimits(mps=settings.sender_mps or None))
        ctx = cls(settings, redis, mongo, db, contacts, ledger, segments, templates, campaigns, recipients, queue,
                  service, Tracker(campaigns, recipients, contacts), None, graph, sender)  # type: ignore[arg-type]
        purpose: Any = "campaign"
        if sender is not None:
            from .campaigns.worker import make_purpose
            purpose = make_purpose()
        ctx.followups = FollowUps(ctx, purpose)
        ctx.webhooks = CrmWebhooks.from_db(db)
        return ctx

    async def ensure_indexes(self) -> None:
        await self.contacts.ensure_indexes()
        await self.ledger.ensure_indexes()
        await self.segments.ensure_indexes()
        await self.templates.ensure_indexes()
        await self.campaigns.ensure_indexes()
        await self.recipients.ensure_indexes()
        await self.webhooks.ensure_indexes()
        await self.queue.ensure_groups()

    async def close(self) -> None:
        if self.graph is not None:
            await self.graph.aclose()
        self.mongo.close()
        await self.redis.aclose()


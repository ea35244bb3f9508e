"""The service's clients and components, built once at startup and closed at shutdown."""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, List

import httpx
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorClient

from connectors import keys as shared_keys
from connectors.client import GraphClient
from connectors.consent import RedisConsent
from connectors.sender import Sender
from handoff import keys
from handoff.assignment import Assigner, Strategy
from handoff.auth import Authenticator, Passwords
from handoff.consumers.group import GroupConsumer
from handoff.consumers.live import LiveCopier
from handoff.consumers.tickets import TicketRequests
from handoff.consumers.transcript import TranscriptWriter
from handoff.handback import BotResumer, InboundStreamResumer, NoResume, RasaApiResumer
from handoff.live import LiveHub
from handoff.operations import Operations
from handoff.presence import Presence
from handoff.publisher import Publisher
from handoff.replies import Replies
from handoff.service import HandoffService
from handoff.settings import Settings
from handoff.store import MongoAgentStore, MongoTicketStore, MongoTranscriptStore, ensure_indexes
from handoff.timeouts import QueueTimeouts
from handoff.waiting import QueueNotices

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    redis: Any
    mongo: Any
    http: httpx.AsyncClient
    graph: GraphClient
    ops: Operations
    auth: Authenticator
    hub: LiveHub
    timeouts: QueueTimeouts
    presence: Presence
    assigner: Assigner
    tasks: List["asyncio.Task[Any]"] = field(default_factory=list)
    workers: List[Any] = field(default_factory=list)  # loops with a stop() method

    @classmethod
    async def open(cls, settings: Settings) -> "AppContext":
        redis = aioredis.from_url(settings.redis_url, socket_timeout=10,
                                  health_check_interval=30)
        mongo = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True,
                                   serverSelectionTimeoutMS=5000)
        db = mongo[settings.mongodb_db]
        http = httpx.AsyncClient(timeout=10.0)
        graph = GraphClient.from_credentials(settings.access_token, settings.phone_number_id,
                                             base_url=settings.graph_base_url,
                                             version=settings.graph_version,
                                             waba_id=settings.waba_id or None)
        tickets, transcript, agents = (MongoTicketStore(db), MongoTranscriptStore(db),
                                       MongoAgentStore(db))
        service = HandoffService(tickets, Publisher(redis))
        replies = Replies(Sender(graph, redis, consent=RedisConsent(redis)), redis,
                          cache_seconds=settings.templates_cache_seconds)
        ops = Operations(service, transcript, agents, replies, _resumer(settings, redis, http))
        auth = Authenticator(redis, agents, settings.secret_key,
                             session_seconds=int(settings.session_hours * 3600),
                             max_failures=settings.login_max_failures,
                             failure_window_s=settings.login_window_seconds,
                             passwords=Passwords(settings.argon2_memory_kib,
                                                 settings.argon2_time_cost))
        presence = Presence(redis)
        notices = QueueNotices(tickets, replies, redis) if settings.queue_notice else None
        assigner = Assigner(service, agents, presence, redis, Strategy(settings.auto_assign),
                            notices, name=f"{settings.consumer_name}-{uuid.uuid4().hex[:8]}",
                            interval_s=settings.assign_interval_seconds)
        ctx = cls(settings, redis, mongo, http, graph, ops, auth, LiveHub(redis),
                  QueueTimeouts(service, replies, settings.queue_timeout_minutes,
                                settings.timeout_check_seconds), presence, assigner)
        await ensure_indexes(db)
        await auth.ensure_admin(settings.admin_email, settings.admin_password)
        return ctx

    def start_background(self) -> None:
        """Consumers, the live feed reader and the time-out sweeper, tracked for shutdown."""
        s, name = self.settings, self.settings.consumer_name
        self.start(self.hub)
        if not s.run_consumers:
            return
        events = [shared_keys.EVENTS_STREAM]
        self.start(GroupConsumer(self.redis, events, keys.TICKETS_GROUP, name,
                                 TicketRequests(self.ops.service), batch=50))
        self.start(GroupConsumer(self.redis, events, keys.TRANSCRIPT_GROUP, name,
                                 TranscriptWriter(self.redis, self.ops.transcript)))
        self.start(GroupConsumer(self.redis, [*events, shared_keys.HANDOFF_INBOX_STREAM],
                                 keys.LIVE_GROUP, name, LiveCopier(self.redis), start_id="$",
                                 block_ms=500))
        if s.queue_timeout_minutes > 0:
            self.start(self.timeouts)
        if s.auto_assign != Strategy.OFF.value or s.queue_notice:
            self.start(self.assigner)

    def start(self, worker: Any) -> None:
        """Run `worker.run()` as a tracked task; `worker.stop()` is called on shutdown."""
        self.workers.append(worker)
        self.tasks.append(asyncio.get_running_loop().create_task(worker.run()))

    async def close(self) -> None:
        # Ask the loops to finish (a blocking read ends within a second), then cancel any
        # straggler: cancelling a task inside a blocking redis read can stall the shutdown.
        for worker in self.workers:
            worker.stop()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=3.0)
            for task in pending:
                log.info("cancelling %s at %s", task.get_name(), task.get_stack(limit=4))
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        await self.graph.aclose()
        await self.http.aclose()
        self.mongo.close()
        await self.redis.aclose()


def _resumer(settings: Settings, redis: Any, http: httpx.AsyncClient) -> BotResumer:
    if settings.bot_resume == "rasa_api":
        return RasaApiResumer(http, settings.rasa_url, settings.rasa_token)
    if settings.bot_resume == "inbound_stream":
        return InboundStreamResumer(redis, settings.phone_number_id, settings.waba_id)
    return NoResume()

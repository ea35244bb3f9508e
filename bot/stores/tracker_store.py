"""A Rasa tracker store whose Redis value holds only the customer's live session.

Rasa's RedisTrackerStore keeps every session of a conversation in one JSON value and rewrites
it on every message (p50 20 ms in session 1, ~700 ms by session 25 on WhatsApp, where the
conversation id is the phone number and never changes). This store keeps, per conversation:

* ``{prefix}{sender_id}``: the events from the last ``session_started`` onward (Rasa's own
  JSON dialogue format, so ``deserialise_tracker`` reads it), expiring after ``record_exp``;
* ``{prefix}{sender_id}:session``: the timestamp of that ``session_started`` event.

When a save carries a newer ``session_started`` than the stored one, the events before it (the
finished sessions) are appended to the archive stream ``connectors.keys.TRACKER_ARCHIVE_STREAM``
in the same ``MULTI`` as the new live value, so an archive is never lost and never blocks a
reply. :mod:`bot.stores.archive` writes the stream behind into MongoDB (motor), idempotently,
and keeps entries in Redis while MongoDB is down.

No read-merge-write as RedisTrackerStore does: the connector hands Rasa one message per
contact at a time, and Rasa's ticket lock covers the rest, with one exception the store guards
itself: rasa's ``GET /conversations/{id}/tracker`` takes no lock and, when the store has no
live session, creates and saves an empty tracker. If the conversation's first turn is saved
between that read and that save (the read awaits MongoDB), the empty tracker would erase the
turn, so a tracker holding nothing but ``action_listen`` is written only where no live session
exists (``SET NX``).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Text

import redis.asyncio as aioredis
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from connectors import keys
from connectors.redis_options import restart_tolerant

from .archive import ArchiveFlusher

logger = logging.getLogger(__name__)
DEFAULT_PREFIX = "tracker:"
SESSION_STARTED = "session_started"


class LiveSessionTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Live session in Redis, finished sessions archived to MongoDB (written behind)."""

    def __init__(
        self,
        domain: Domain,
        host: Text = "localhost",
        port: int = 6379,
        db: int = 0,
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        record_exp: Optional[float] = None,
        key_prefix: Optional[Text] = None,
        use_ssl: bool = False,
        mongodb_url: Optional[Text] = None,
        mongodb_db: Text = "parley",
        mongodb_collection: Text = "tracker_archive",
        archive_flush: Any = True,
        **kwargs: Any,
    ) -> None:
        # After a Redis restart the pooled connections are stale: retry once on a fresh one instead
        # of failing the save (rasa would then keep the turn only in process memory).
        self.red = aioredis.Redis(host=host or "localhost", port=int(port), db=int(db), username=username,
                                  password=password, ssl=bool(use_ssl), **restart_tolerant(5.0))
        self.record_exp = int(record_exp) if record_exp else None
        prefix = str(key_prefix) if key_prefix else ""
        if prefix and not prefix.isalnum():
            raise ValueError(f"key_prefix must be alphanumeric, got {prefix!r}")
        self.key_prefix = f"{prefix}:{DEFAULT_PREFIX}" if prefix else DEFAULT_PREFIX
        self.flusher: Optional[ArchiveFlusher] = None
        if mongodb_url and str(archive_flush).lower() not in ("false", "0", "no"):
            self.flusher = ArchiveFlusher(self.red, str(mongodb_url), str(mongodb_db), str(mongodb_collection))
        self.mongodb = (str(mongodb_url), str(mongodb_db), str(mongodb_collection)) if mongodb_url else None
        super().__init__(domain, event_broker, **kwargs)

    def _key(self, sender_id: Text) -> str:
        return self.key_prefix + sender_id

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the live session; archive finished sessions carried by ``tracker``."""
        await self.stream_events(tracker)
        dialogue = tracker.as_dialogue().as_dict()
        events: List[Dict[str, Any]] = dialogue.get("events") or []
        start = _last_session_start(events)
        live = dict(dialogue, events=events[start:])
        key = self._key(tracker.sender_id)
        marker = repr(events[start]["timestamp"]) if start < len(events) and start >= 0 and events else ""
        stored_marker = await self.red.get(key + ":session")
        pipe = self.red.pipeline(transaction=True)
        if start > 0 and (stored_marker or b"").decode() != marker and _worth_archiving(events[:start]):
            doc = {"_id": f"{tracker.sender_id}:{events[0].get('timestamp')}", "sender_id": tracker.sender_id,
                   "events": events[:start], "first_ts": events[0].get("timestamp"),
                   "last_ts": events[start - 1].get("timestamp")}
            pipe.xadd(keys.TRACKER_ARCHIVE_STREAM, {"doc": json.dumps(doc, separators=(",", ":"))})
        # A just-created tracker (rasa's create-on-read, possibly outside the ticket lock) never
        # replaces a live session: that session may hold a turn saved after the creator's read.
        created = _just_created(events)
        pipe.set(key, json.dumps(live, separators=(",", ":")), ex=self.record_exp, nx=created)
        pipe.set(key + ":session", marker, ex=self.record_exp, nx=created)
        await pipe.execute()
        if self.flusher is not None:
            self.flusher.ensure_running()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The live session (the only one Rasa needs to predict)."""
        stored = await self.red.get(self._key(sender_id))
        if stored is None:
            return None
        return self.deserialise_tracker(sender_id, stored)

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Archived sessions (from MongoDB, best effort, 5 s) followed by the live one."""
        live = await self.red.get(self._key(sender_id))
        archived: List[Dict[str, Any]] = []
        if self.mongodb is not None:
            try:
                archived = await asyncio.wait_for(self._archived_events(sender_id), 5)
            except Exception as exc:  # MongoDB down: the live session is still the truth
                logger.warning("tracker archive unavailable for %s: %r", sender_id, exc)
        if live is None and not archived:
            return None
        dialogue = json.loads(live) if live is not None else {"name": sender_id, "events": []}
        dialogue["events"] = archived + dialogue["events"]
        return self.deserialise_tracker(sender_id, json.dumps(dialogue))

    async def _archived_events(self, sender_id: Text) -> List[Dict[str, Any]]:
        from motor.motor_asyncio import AsyncIOMotorClient

        assert self.mongodb is not None
        url, db, collection = self.mongodb
        client = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000)
        try:
            cursor = client[db][collection].find({"sender_id": sender_id}).sort("first_ts", 1)
            return [e for doc in await cursor.to_list(length=10_000) for e in doc.get("events", [])]
        finally:
            client.close()

    async def keys(self) -> Iterable[Text]:
        found: List[Text] = []
        async for key in self.red.scan_iter(match=self.key_prefix + "*", count=500):
            text = key.decode() if isinstance(key, bytes) else key
            if not text.endswith(":session"):
                found.append(text[len(self.key_prefix):])
        return found


def _last_session_start(events: List[Dict[str, Any]]) -> int:
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == SESSION_STARTED:
            return index
    return 0


def _just_created(events: List[Dict[str, Any]]) -> bool:
    """What ``TrackerStore.create_tracker`` saves: no events, or only the initial ``action_listen``."""
    return all(e.get("event") == "action" and e.get("name") == "action_listen" for e in events)


def _worth_archiving(events: List[Dict[str, Any]]) -> bool:
    """A brand-new tracker's opening ``action_listen``/``action_session_start`` is not a session."""
    return any(e.get("event") != "action" for e in events)

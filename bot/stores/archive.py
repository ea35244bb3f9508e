"""Write finished Rasa sessions behind, from the Redis archive stream into MongoDB.

Entries of ``connectors.keys.TRACKER_ARCHIVE_STREAM`` (field ``doc``: JSON with a stable ``_id``
``{sender_id}:{first event timestamp}``) are read through the consumer group
``keys.TRACKER_ARCHIVE_GROUP``, inserted with ``insert_many(ordered=False)`` (a duplicate ``_id``
means an earlier attempt already stored it), then acknowledged and deleted. While MongoDB is
down the entries stay in Redis and the flusher backs off (0.5 s doubling to 30 s); a flusher
that died leaves pending entries that any other one reclaims after a minute (XAUTOCLAIM).

Runs inside Rasa (started lazily by the tracker store on its first save) or on its own:
``python -m bot.stores.archive --redis-url redis://... --mongodb-url mongodb://...``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import uuid
from typing import Any, List, Optional, Tuple

from connectors import keys

logger = logging.getLogger(__name__)
RECLAIM_IDLE_MS = 60_000


class ArchiveFlusher:
    """One flusher task per process; ``ensure_running()`` from async code, ``stop()`` to end it."""

    def __init__(self, redis: Any, mongodb_url: str, db: str = "parley", collection: str = "tracker_archive",
                 *, batch: int = 200, block_ms: int = 1000, reclaim_idle_ms: int = RECLAIM_IDLE_MS) -> None:
        self.redis, self.mongodb_url, self.db, self.collection = redis, mongodb_url, db, collection
        self.batch, self.block_ms, self.reclaim_idle_ms = batch, block_ms, reclaim_idle_ms
        self.name = f"archiver-{uuid.uuid4().hex[:8]}"
        self.flushed = 0
        self._task: Optional["asyncio.Task[None]"] = None
        self._mongo: Any = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="tracker-archive")

    async def stop(self) -> None:
        """Cancel the task and close the MongoDB client; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=5)
        mongo, self._mongo = self._mongo, None
        if mongo is not None:
            mongo.close()

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.flush_once()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # MongoDB or Redis down: entries stay in Redis; back off
                logger.warning("tracker archive flush failed (retry in %.1f s): %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def flush_once(self) -> int:
        """Move one batch (pending-first) to MongoDB; how many entries were stored."""
        await self._ensure_group()
        entries = await self._pending()
        if not entries:
            resp = await self.redis.xreadgroup(keys.TRACKER_ARCHIVE_GROUP, self.name,
                                               {keys.TRACKER_ARCHIVE_STREAM: ">"}, count=self.batch,
                                               block=self.block_ms)
            entries = [(_text(i), f) for i, f in (resp[0][1] if resp else [])]
        if not entries:
            return 0
        docs = [json.loads(_text(f.get(b"doc") or f.get("doc"))) for _, f in entries if f]
        if docs:
            await self._insert(docs)
        ids = [i for i, _ in entries]
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(keys.TRACKER_ARCHIVE_STREAM, keys.TRACKER_ARCHIVE_GROUP, *ids)
        pipe.xdel(keys.TRACKER_ARCHIVE_STREAM, *ids)
        await pipe.execute()
        self.flushed += len(docs)
        return len(docs)

    async def _pending(self) -> List[Tuple[str, Any]]:
        # Our own unacknowledged entries first (a failed insert), then a dead flusher's.
        resp = await self.redis.xreadgroup(keys.TRACKER_ARCHIVE_GROUP, self.name,
                                           {keys.TRACKER_ARCHIVE_STREAM: "0"}, count=self.batch)
        own = [(_text(i), f) for i, f in (resp[0][1] if resp else [])]
        if own:
            return own
        claimed = await self.redis.xautoclaim(keys.TRACKER_ARCHIVE_STREAM, keys.TRACKER_ARCHIVE_GROUP, self.name,
                                              self.reclaim_idle_ms, start_id="0-0", count=self.batch)
        return [(_text(i), f) for i, f in claimed[1]]

    async def _insert(self, docs: List[dict]) -> None:
        from pymongo.errors import BulkWriteError

        if self._mongo is None:
            from motor.motor_asyncio import AsyncIOMotorClient

            self._mongo = AsyncIOMotorClient(self.mongodb_url, serverSelectionTimeoutMS=5000,
                                             socketTimeoutMS=10_000)
        try:
            await self._mongo[self.db][self.collection].insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors) or exc.details.get("writeConcernErrors"):
                raise
            # only duplicates: an earlier attempt stored them before failing to acknowledge

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.TRACKER_ARCHIVE_STREAM, keys.TRACKER_ARCHIVE_GROUP, id="0",
                                           mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _main(redis_url: str, mongodb_url: str, db: str, collection: str) -> None:
    import redis.asyncio as aioredis

    flusher = ArchiveFlusher(aioredis.Redis.from_url(redis_url), mongodb_url, db, collection)
    await flusher.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--mongodb-url", required=True)
    parser.add_argument("--db", default="parley")
    parser.add_argument("--collection", default="tracker_archive")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main(args.redis_url, args.mongodb_url, args.db, args.collection))

"""Fixtures for the bot's tests (bot env only): shared clients for the actions, a rasa_sdk
executor, tracker builders, the fast model and a running action server."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

pytestmark = pytest.mark.bot
ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"


@pytest.fixture(scope="session")
def domain_dict() -> Dict[str, Any]:
    import yaml

    return yaml.safe_load((BOT / "domain.yml").read_text())


@pytest.fixture(scope="session")
def executor() -> Any:
    from rasa_sdk.executor import ActionExecutor

    ex = ActionExecutor()
    ex.register_package("bot.actions")
    return ex


@pytest.fixture
async def redis(redis_url: str) -> Any:
    """An asyncio Redis client on a flushed database, also handed to the actions."""
    from redis import asyncio as aioredis

    from bot.actions import clients
    from bot.actions.settings import Settings

    client = aioredis.from_url(redis_url)
    clients.use(settings=Settings(redis_url=redis_url, mongodb_url="mongodb://127.0.0.1:9/",
                                  io_timeout_s=0.5), redis_client=client)
    yield client
    await clients.reset()


@pytest.fixture
def mongo(request: pytest.FixtureRequest, redis: Any, redis_url: str, mongo_db_name: str) -> Any:
    """A fresh MongoDB database (motor) handed to the actions; skipped if no server is available."""
    try:
        url = request.getfixturevalue("mongo_url")
    except Exception as exc:  # noqa: BLE001 - no MongoDB-compatible server in this environment
        pytest.skip(f"no MongoDB server: {exc}")
    from motor.motor_asyncio import AsyncIOMotorClient

    from bot.actions import clients
    from bot.actions.settings import Settings

    client = AsyncIOMotorClient(url, serverSelectionTimeoutMS=5000, tz_aware=True)
    clients.use(settings=Settings(redis_url=redis_url, mongodb_url=url,
                                  mongodb_db=mongo_db_name, io_timeout_s=3.0),
                mongo_client=client)
    return client[mongo_db_name]


def user(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None,
         message_id: str = "", metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A `user` event as Rasa sends it to the action server."""
    return {"event": "user", "text": text, "timestamp": time.time(),
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
                           "text": text, "message_id": message_id or None, "metadata": metadata or {}},
            "metadata": metadata or {}, "message_id": message_id or None}


def bot(text: str) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": time.time(), "data": {}, "metadata": {}}


def tracker(sender: str, events: List[Dict[str, Any]], slots: Optional[Dict[str, Any]] = None,
            active_loop: Optional[str] = None) -> Dict[str, Any]:
    """A tracker dict in the action server's wire format; the latest message is the last user event."""
    last_user = next((e for e in reversed(events) if e["event"] == "user"), None)
    latest = dict(last_user["parse_data"], message_id=last_user.get("message_id")) if last_user else {}
    return {"sender_id": sender, "slots": slots or {}, "latest_message": latest, "events": events,
            "paused": False, "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {}, "latest_action_name": "action_listen"}


@pytest.fixture
def run_action(executor: Any, domain_dict: Dict[str, Any]) -> Any:
    """`await run_action(name, tracker_dict)` -> {"events": [...], "responses": [...]}."""
    async def run(name: str, tracker_dict: Dict[str, Any]) -> Dict[str, Any]:
        result = await executor.run({"next_action": name, "sender_id": tracker_dict["sender_id"],
                                     "tracker": tracker_dict, "domain": domain_dict, "version": "3.6.2"})
        return result or {"events": [], "responses": []}

    return run


@pytest.fixture(scope="session")
def fast_model() -> Path:
    """The fast model, trained once per data change (bot/train.py's cache)."""
    from bot.train import train

    return train("fast", out=BOT / "models")


@pytest.fixture
def action_server(redis_url: str) -> Iterator[str]:
    """`rasa run actions` for bot.actions on a free port, against this test's Redis.
    MongoDB points at a closed port, so order lookups take their 'unavailable' path."""
    from devstack import free_port, wait_for_port

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), REDIS_URL=redis_url,
               MONGODB_URL="mongodb://127.0.0.1:9/", ACTIONS_IO_TIMEOUT_S="0.5")
    process = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions",
                                "--port", str(port)], cwd=str(ROOT), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=60, process=process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        process.terminate()
        process.wait(timeout=10)

"""Pytest plugin: the real Parley platform, started once per session by the dev runner's code.

``devstack.start_platform`` (the code behind ``make run``) starts everything on free ports: a
private redis-server (not the session's ``redis_server``, which other tests flush), a fresh
database on the session's MongoDB-compatible server (``mongo_url``), the sandbox with the
suite's fast timings, the action server and rasa with the WhatsApp connector (bot env,
``PARLEY_BOT_PYTHON``; skipped when it is not built), and, for tests that ask for them,
handoff and broadcasts. Each process logs to its own file; a failing test gets the lines its
run added to every log as report sections.

Fixture:
- ``platform`` (session): a :class:`Platform`. Bot only by default; tests that need handoff and
  broadcasts too use ``@with_services`` (indirect parametrisation: pytest runs one platform at a
  time and starts the full one once for all such tests).

Tests share the running platform: each starts from ``platform.new_customer()`` (a fresh random
wa_id) instead of flushing shared state.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pytest

from devstack import Supervisor, free_port, start_redis
from devstack.services import RunningPlatform, start_platform
from devstack.settings import PLATFORM_SERVICES, StackSettings
from tests.plugins.sandbox import TEST_ENV, SandboxHandle, http

#: ``@with_services``: the test also needs handoff and broadcasts.
FULL = "full"
with_services = pytest.mark.parametrize("platform", [FULL], indirect=True)
#: First turn of a platform: model load, action server, Mongo seeded; then turns take ~1 s.
READY_TIMEOUT_S = 180.0
TURN_TIMEOUT_S = 30.0
#: The processes a customer's message passes through (the services may come and go).
CONVERSATION_PATH = ("redis", "sandbox", "actions", "rasa")
_LOG_OFFSETS = pytest.StashKey[Dict[str, int]]()
Message = Dict[str, Any]


def reply_text(message: Message) -> str:
    """The visible text of an outbox message (text body, interactive body, template name)."""
    payload = message.get("payload") or {}
    kind = payload.get("type") or message.get("type")
    if kind == "text":
        return str(payload.get("text", {}).get("body", ""))
    if kind == "interactive":
        return str(payload.get("interactive", {}).get("body", {}).get("text", ""))
    if kind == "template":
        return f"[template {payload.get('template', {}).get('name', '')}]"
    return f"[{kind}]"


def reply_buttons(message: Message) -> List[str]:
    """Titles of an interactive message's reply buttons."""
    action = (message.get("payload") or {}).get("interactive", {}).get("action", {})
    return [str(b.get("reply", {}).get("title", "")) for b in action.get("buttons", [])]


class Platform:
    """A running platform: where its parts listen, its logs, and helpers over them."""

    def __init__(self, running: RunningPlatform, supervisor: Supervisor) -> None:
        self.running = running
        self.supervisor = supervisor
        self.sandbox = SandboxHandle(running.sandbox_url)
        self.redis_url = running.redis_url
        self.mongo_url = running.mongodb_url
        self.mongo_db = running.mongodb_db
        self.rasa_url = running.rasa_url
        self.rasa_token = running.rasa_token
        self.handoff_url = running.handoff_url
        self.broadcasts_url = running.broadcasts_url
        self._redis: Any = None
        self._admin_token = ""

    # -- accounts ---------------------------------------------------------------------------
    def admin_headers(self) -> Dict[str, str]:
        """``Authorization: Bearer`` of the dev admin (devstack's HANDOFF_ADMIN_*), for the
        handoff and broadcasts REST APIs (both need a login since broadcasts has auth). The
        token is issued once through handoff's login + /api/tokens, like an integrator would."""
        if not self._admin_token:
            import httpx

            with httpx.Client(base_url=self.handoff_url, timeout=30) as console:
                login = console.post("/api/login", json={"email": self.running.admin_email,
                                                         "password": self.running.admin_password})
                login.raise_for_status()
                issued = console.post("/api/tokens", json={"label": "tests"},
                                      headers={"X-CSRF-Token": login.json()["csrf"]})
                issued.raise_for_status()
                self._admin_token = issued.json()["token"]
        return {"Authorization": f"Bearer {self._admin_token}"}

    # -- customers --------------------------------------------------------------------------
    def new_customer(self, name: str = "Asha") -> "Customer":
        """A customer nobody has used: a random Indian mobile wa_id (never a seeded one)."""
        return Customer(self, f"9170{secrets.randbelow(10**8):08d}", name)

    # -- stores -----------------------------------------------------------------------------
    def redis(self) -> Any:
        """A synchronous redis-py client on the platform's Redis (decoded strings)."""
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, decode_responses=True,
                                               socket_timeout=5)
        return self._redis

    def stream(self, name: str, wa_id: Optional[str] = None,
               type: Optional[str] = None) -> List[Dict[str, Any]]:
        """Events on stream ``name`` (connectors.events model) as {type, id, data, ts} dicts,
        optionally only those whose ``data.wa_id`` / ``type`` match."""
        from connectors.events import Event

        found = []
        for _entry_id, fields in self.redis().xrange(name):
            event = Event.from_fields(fields)
            if (wa_id is None or event.data.get("wa_id") == wa_id) and (type is None or event.type == type):
                found.append(dataclasses.asdict(event))
        return found

    def tracker(self, wa_id: str) -> Dict[str, Any]:
        """Rasa's tracker of the conversation (HTTP API with the token)."""
        query = urllib.parse.urlencode({"token": self.rasa_token})
        status, body = http("GET", f"{self.rasa_url}/conversations/{wa_id}/tracker?{query}")
        assert status == 200, (status, body[:500])
        return dict(json.loads(body))

    # -- processes and logs -----------------------------------------------------------------
    def dead(self) -> List[str]:
        """Names of platform processes that have exited."""
        return [c.name for c in self.supervisor.children if c.process.poll() is not None]

    def log_offsets(self) -> Dict[str, int]:
        return {c.name: c.log_path.stat().st_size for c in self.supervisor.children
                if c.log_path is not None and c.log_path.exists()}

    def logs_since(self, offsets: Dict[str, int]) -> Dict[str, str]:
        return process_logs(self.supervisor, offsets)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        self.supervisor.stop_all(grace=10)


class Customer:
    """One virtual customer on the sandbox, and what the platform did with their messages."""

    def __init__(self, platform: Platform, wa_id: str, name: str) -> None:
        self.platform, self.wa_id, self.name = platform, wa_id, name

    def sends(self, message: Message) -> str:
        """Any inbound message in Meta's shape (e.g. ``{"type": "sticker", "sticker": {}}``)."""
        return self.platform.sandbox.customer_sends(self.wa_id, message, name=self.name)

    def says(self, text: str) -> str:
        return self.sends({"type": "text", "text": {"body": text}})

    def replies(self) -> List[Message]:
        """Everything the business sent this customer (sandbox outbox, oldest first)."""
        return self.platform.sandbox.outbox(to=self.wa_id)

    def ask(self, text_or_message: Union[str, Message], timeout: float = TURN_TIMEOUT_S) -> List[Message]:
        """Send a message and return what the bot sent back for it, once its turn is over."""
        before = len(self.replies())
        message = text_or_message if isinstance(text_or_message, dict) else \
            {"type": "text", "text": {"body": text_or_message}}
        wamid = self.sends(message)
        self.wait_for_turn(wamid, timeout)
        return self.replies()[before:]

    def wait_for_turn(self, wamid: str, timeout: float = TURN_TIMEOUT_S) -> Dict[str, Any]:
        """Wait until Rasa has finished the turn of message ``wamid`` and saved its tracker:
        every reply of that turn has then been accepted by the sandbox."""
        deadline = time.monotonic() + timeout
        while True:
            tracker = self.platform.tracker(self.wa_id)
            if turn_finished(tracker, wamid):
                return tracker
            dead = [name for name in self.platform.dead() if name in CONVERSATION_PATH]
            assert not dead, f"platform processes exited: {dead}"
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not finish the turn of {wamid} within {timeout} s; "
                                     f"tracker tail: {json.dumps(tracker.get('events', [])[-6:])[:3000]}")
            time.sleep(0.1)

    def events(self, type: Optional[str] = None) -> List[Dict[str, Any]]:
        """This customer's events on the events stream."""
        from connectors import keys

        return self.platform.stream(keys.EVENTS_STREAM, wa_id=self.wa_id, type=type)

    def wait_for_event(self, type: str, timeout: float = 10.0,
                       stream: Optional[str] = None,
                       predicate: Callable[[Dict[str, Any]], bool] = lambda e: True) -> Dict[str, Any]:
        """The first event of ``type`` for this customer (on ``stream``, default the events stream)."""
        from connectors import keys

        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.platform.stream(stream or keys.EVENTS_STREAM, self.wa_id, type)
                     if predicate(e)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {type} event for {self.wa_id} within {timeout} s")
            time.sleep(0.05)

    def ownership(self) -> Dict[str, str]:
        """The raw ownership hash (``{}``: the bot owns the chat)."""
        from connectors import keys

        return dict(self.platform.redis().hgetall(keys.ownership(self.wa_id)))


def process_logs(supervisor: Supervisor, offsets: Dict[str, int], limit: int = 20_000) -> Dict[str, str]:
    """What each process logged after ``offsets`` (at most the last ``limit`` characters)."""
    out = {}
    for child in supervisor.children:
        if child.log_path is None or not child.log_path.exists():
            continue
        with open(child.log_path, "rb") as log:
            log.seek(offsets.get(child.name, 0))
            text = log.read().decode("utf-8", "replace")
        if text.strip():
            out[child.name] = text[-limit:]
    return out


def turn_finished(tracker: Dict[str, Any], wamid: str) -> bool:
    """True when the tracker has the user message ``wamid`` followed by ``action_listen``."""
    events = tracker.get("events") or []
    for index, event in enumerate(events):
        if event.get("event") == "user" and event.get("message_id") == wamid:
            return any(e.get("event") == "action" and e.get("name") == "action_listen"
                       for e in events[index + 1:])
    return False


def _settings(data_dir: Path, mongo_url: str, services: bool) -> StackSettings:
    base = StackSettings.from_env(os.environ)
    return dataclasses.replace(
        base.with_free_ports(), data_dir=data_dir, mongodb_url=mongo_url,
        mongodb_db=f"platform_{uuid.uuid4().hex[:10]}", redis_url=None,
        services=PLATFORM_SERVICES if services else (), sandbox_env=tuple(TEST_ENV.items()))


def _start(settings: StackSettings, supervisor: Supervisor) -> Platform:
    port = free_port()
    supervisor.adopt("redis", start_redis(port))
    settings = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")
    platform = Platform(start_platform(settings, supervisor), supervisor)
    # Ready = a customer's first message is answered (model loaded, actions up, consumer on).
    warmup = platform.new_customer("Warm Up")
    replies = warmup.ask("hi", timeout=READY_TIMEOUT_S)
    assert replies, "the bot did not answer the warm-up 'hi'"
    return platform


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             mongo_url: str) -> Iterator[Platform]:
    """The running platform (see the module docstring); ``@with_services`` adds handoff and
    broadcasts."""
    settings = _settings(tmp_path_factory.mktemp("platform"), mongo_url,
                         services=getattr(request, "param", "") == FULL)
    if settings.bot_python is None:
        pytest.skip("the bot env is not built (PARLEY_BOT_PYTHON unset or missing: run `make env-bot`)")
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True)
    supervisor = Supervisor(log_dir=log_dir)
    started = time.monotonic()
    try:
        running = _start(settings, supervisor)
    except BaseException as exc:  # nothing may be left running, whatever stopped the start
        logs = process_logs(supervisor, {})
        supervisor.stop_all(grace=5)
        if not isinstance(exc, Exception):
            raise
        details = "\n".join(f"--- {name} ---\n{text[-4000:]}" for name, text in logs.items())
        raise RuntimeError(f"the platform did not start: {exc!r}\n{details}") from exc
    print(f"[platform] up in {time.monotonic() - started:.1f} s: {running.running.urls()}")
    yield running
    running.close()
    shutil.rmtree(settings.data_dir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    platform = getattr(item, "funcargs", {}).get("platform")
    if isinstance(platform, Platform):
        item.stash[_LOG_OFFSETS] = platform.log_offsets()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    platform = getattr(item, "funcargs", {}).get("platform")
    if report.when == "call" and report.failed and isinstance(platform, Platform):
        for name, text in platform.logs_since(item.stash.get(_LOG_OFFSETS, {})).items():
            report.sections.append((f"platform log: {name}", text))

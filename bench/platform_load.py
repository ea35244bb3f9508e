"""Whole-platform load: bot customers, handoff chats with agents and a large campaign, all at
once, each user group's latency beside its idle latency measured earlier in the same run.

    .envs/services/bin/python bench/platform_load.py \
        [--duration 300] [--customers 200] [--handoff-customers 20] [--agents 5] \
        [--recipients 100000] [--think 10,30] [--campaign-baseline 20] [--bot-python .envs/bot/bin/python]
    # quick development run:
    .envs/services/bin/python bench/platform_load.py --duration 30 --customers 20 --recipients 5000

The platform is started once by ``devstack.start_platform`` (the code behind ``make run``) on
127.0.0.1 and free ports, with its own stores started the way ``make run`` starts them (a
redis-server with AOF and the MongoDB-compatible server, both with data in a temporary dir):
the sandbox, the action server, ``rasa run`` with the WhatsApp connector (fast model), handoff
and broadcasts. The sandbox sends its signed webhooks (messages AND statuses) to the connector,
so delivery statuses flow back through the real path into the campaign's roll-up. Limits as for
a real number on Meta's default tier: the sandbox enforces 80 msg/s per number (130429) and the
per-recipient pair rate (45 burst, then one per 6 s); Parley's senders share their 80/s bucket
in Redis (``BROADCASTS_SENDER_MPS``/``BROADCASTS_RATE`` 80, the defaults); status delays and
read probability are the sandbox's defaults (200/600/1500 ms, 90 % read).

Phases (one clock for bench-side times: the wall clock, the same one the sandbox stamps):

1. Seed ``--recipients`` opted-in contacts (bulk inserts straight into MongoDB: contact documents
   with the derived consent plus the consent-ledger entries an import writes), tagged for the
   campaign's segment; create ``--agents`` agents (admin API), log them in, open their console
   websockets; an API token for broadcasts; a draft campaign (template ``spring_sale``, rate 80).
2. Idle baselines, one group at a time with nothing else running: one bot customer walks the
   script twice (webhook in -> first bot reply accepted by the sandbox, sandbox clock); one
   handoff customer asks for a human, is claimed and exchanges 10 messages (customer message ->
   owner's websocket; agent reply -> the message in the sandbox's outbox); then the campaign is
   started through the API (snapshot timed) and sends alone for ``--campaign-baseline`` s.
3. Load, for ``--duration`` s, while the campaign keeps sending: ``--customers`` bot customers
   (closed loop: each sends the next turn of the script ``think`` seconds after seeing the
   previous reply, starts at a random offset), ``--handoff-customers`` customers who ask for a
   human, get claimed by one of the agents (reaction 0.5-2 s, at most ceil(customers/agents)
   chats each), exchange 5 messages (customer think 5-15 s, agent typing 2-6 s), are resolved
   back to the bot and ask again.
4. Drain (in-flight turns, at most 150 s), pause the campaign, wait for the roll-up to count
   every status the sandbox sent (at most 120 s), read everything back from the sandbox.

MongoDB: ``MONGODB_URL`` (a real mongod; the run uses a fresh database on it and drops it at the
end) or, by default, the embedded MongoDB-compatible server ``make run`` uses, which bounds the
campaign figures (docs: do not read them as mongod numbers).

Campaign figures come from the sandbox's outbox: send rate = campaign messages accepted in the
window / window; roll-up lag, sampled every 2 s: age of the oldest ``delivered`` (or ``read``)
status the sandbox had sent that the campaign's counters did not yet include (0 when caught up).

Results: ``bench/results/platform_load.json`` and a markdown table on stdout. Exit 1 if a bot
turn got no reply by the end of the run, a handoff customer's message never reached the owner's
websocket or an agent's reply never reached the sandbox, a customer was never claimed, or the
run hit ``--time-limit``. Process logs are kept in ``$TMPDIR/platform_load_logs``.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import websockets  # noqa: E402

from bench.mongo import BenchMongo  # noqa: E402
from devstack import Supervisor, free_port, start_redis  # noqa: E402
from devstack.services import RunningPlatform, start_platform  # noqa: E402
from devstack.settings import StackSettings  # noqa: E402

#: One bot customer's conversation, turn by turn (each answered by exactly one bot message).
SCRIPT = ("hi", "where is my order", "PS-10023", "what are your store hours",
          "how long does delivery take to 560001", "do you have the Chalo Runner in UK 9",
          "what is your return policy", "thanks", "bye")
ASK_HUMAN = "I want to talk to a human"
HANDOFF_TEXTS = ("Do you have the Trail Runner in size 9? I need it by Friday.",
                 "My order PS-10002 shows shipped but nothing has arrived yet",
                 "Can I exchange the Cloud Slide for a bigger size?",
                 "Is cash on delivery available for 110001?", "ok, thank you")
EXCHANGES = 5            # customer message + agent reply pairs per handoff session
IDLE_EXCHANGES = 10
SANDBOX_ENV = {"SANDBOX_THROUGHPUT_MPS": "80", "SANDBOX_PAIR_RATE": "1",
               "SANDBOX_HISTORY_LIMIT": "400000", "SANDBOX_LOG_LEVEL": "WARNING"}
SERVICES_ENV = {"BROADCASTS_SENDER_MPS": "80", "BROADCASTS_RATE": "80"}
CAMPAIGN_TAG = "bench_campaign"
CAMPAIGN_RATE = 80
REPLY_TIMEOUT_S = 60.0   # a bot customer waits this long for a reply, then carries on
SHOW_TIMEOUT_S = 120.0   # a handoff customer's message must reach the agent within this
SAMPLE_EVERY_S = 2.0


def wall() -> float:
    return time.time()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary(values: Sequence[float]) -> Dict[str, Any]:
    """n, p50/p90/p99/max in ms of durations given in seconds (p99 as in bench/bot_loop.py)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    pick = lambda q: ordered[min(len(ordered) - 1, int(len(ordered) * q))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p90_ms": round(pick(0.90) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def ratios(load: Dict[str, Any], idle: Dict[str, Any]) -> Dict[str, Optional[float]]:
    return {key: round(load[key] / idle[key], 2) if load.get(key) and idle.get(key) else None
            for key in ("p50_ms", "p90_ms", "p99_ms")}


class Deadline:
    """The whole run's time budget; every wait is cut to what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.hit = False

    def left(self, cap: float = math.inf) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            self.hit = True
        return max(0.0, min(cap, left))


# -- processes and CPU ---------------------------------------------------------------------

def group_cpu(leader: int) -> float:
    """CPU seconds of a process group (the Supervisor starts each child in its own session)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:
            total += sum(int(f) for f in fields[11:15]) / tick
    return total


def system_cpu() -> Tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


@dataclasses.dataclass
class CpuMark:
    at: float
    groups: Dict[str, float]
    machine: Tuple[float, float]
    bench: float
    load_avg: Tuple[float, ...]


def cpu_mark(sup: Supervisor) -> CpuMark:
    return CpuMark(time.monotonic(), {c.name: group_cpu(c.process.pid) for c in sup.children},
                   system_cpu(), time.process_time(), tuple(round(x, 2) for x in os.getloadavg()))


def cpu_between(a: CpuMark, b: CpuMark) -> Dict[str, Any]:
    """Cores used by each process group, this benchmark and the whole machine (incl. others)."""
    seconds = max(1e-6, b.at - a.at)
    busy = (b.machine[0] - a.machine[0]) / max(1.0, b.machine[1] - a.machine[1])
    return {"seconds": round(seconds, 1), "machine_busy_pct": round(busy * 100, 1),
            "cores_by_process": {name: round((b.groups.get(name, 0) - v) / seconds, 3)
                                 for name, v in a.groups.items()},
            "bench_client_cores": round((b.bench - a.bench) / seconds, 3),
            "load_avg_at_end": b.load_avg}


def start_stack(args: argparse.Namespace, data_dir: Path, sup: Supervisor, mongo: BenchMongo) -> RunningPlatform:
    """Everything `make run` starts, on free ports, with a private AOF Redis, on `mongo`."""
    settings = StackSettings.from_env({**os.environ, "PARLEY_BOT_PYTHON": os.path.abspath(args.bot_python)})
    if settings.bot_python is None:
        raise SystemExit(f"the bot env is not built: {args.bot_python} (run `make env-bot`)")
    redis_port = free_port()
    sup.adopt("redis", start_redis(redis_port, data_dir / "redis", aof=True), port=redis_port)
    if mongo.process is not None:
        sup.adopt("mongodb", mongo.process, port=mongo.port)
    settings = dataclasses.replace(
        settings.with_free_ports(), data_dir=data_dir, redis_url=f"redis://127.0.0.1:{redis_port}/0",
        mongodb_url=mongo.url, mongodb_db=mongo.db, sandbox_env=tuple(SANDBOX_ENV.items()))
    os.environ.update(SERVICES_ENV)  # read by the broadcasts process (Supervisor passes os.environ on)
    return start_platform(settings, sup)


def seed_contacts(mongo_url: str, db_name: str, n: int) -> float:
    """N opted-in contacts tagged for the campaign, as an import leaves them; returns seconds."""
    from pymongo import MongoClient

    started = time.perf_counter()
    at = datetime.now(timezone.utc).replace(microsecond=0)
    client = MongoClient(mongo_url)
    try:
        db = client[db_name]
        for lo in range(0, n, 10_000):
            ids = [recipient(i) for i in range(lo, min(n, lo + 10_000))]
            db.contacts.insert_many([
                {"_id": w, "phone": "+" + w, "name": f"Bench {w[-5:]}", "attrs": {"first_name": f"F{w[-5:]}"},
                 "tags": [CAMPAIGN_TAG], "created_at": at,
                 "consent": {"marketing": {"state": "opted_in", "at": at, "source": "import"}}}
                for w in ids], ordered=False)
            db.consent_ledger.insert_many([
                {"_id": f"import:{w}:marketing:opt_in", "wa_id": w, "category": "marketing",
                 "action": "opt_in", "source": "import", "at": at} for w in ids], ordered=False)
    finally:
        client.close()
    return time.perf_counter() - started


def recipient(i: int) -> str:
    return f"91987{i:07d}"


# -- clients ---------------------------------------------------------------------------------

class Sandbox:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.inject_errors = 0

    async def say(self, wa_id: str, text: str, name: str) -> Optional[str]:
        try:
            async with self.http.post(f"{self.url}/_sandbox/customers/{wa_id}/messages",
                                      json={"type": "text", "text": {"body": text}, "name": name}) as resp:
                resp.raise_for_status()
                return str((await resp.json())["wamid"])
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError):
            self.inject_errors += 1
            return None

    async def conversation(self, wa_id: str) -> List[Dict[str, Any]]:
        async with self.http.get(f"{self.url}/_sandbox/customers/{wa_id}/conversation") as resp:
            if resp.status == 404:
                return []
            resp.raise_for_status()
            return list((await resp.json())["messages"])

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.url}{path}", timeout=aiohttp.ClientTimeout(total=300)) as resp:
            resp.raise_for_status()
            return await resp.json()


async def wait_for_reply(sandbox: Sandbox, wa_id: str, wamid: str, timeout: float) -> bool:
    """Poll the customer's phone until a business message follows ``wamid`` (or time out)."""
    give_up, pause = time.monotonic() + timeout, 0.25
    while time.monotonic() < give_up:
        await asyncio.sleep(pause)
        pause = min(1.0, pause * 1.5)
        try:
            messages = await sandbox.conversation(wa_id)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            continue
        after = False
        for message in messages:
            if message["wamid"] == wamid:
                after = True
            elif after and message["direction"] == "out":
                return True
    return False


def session_headers(resp: aiohttp.ClientResponse, csrf: str) -> Dict[str, str]:
    cookies = "; ".join(f"{k}={m.value}" for k, m in resp.cookies.items())
    return {"Cookie": cookies, "X-CSRF-Token": csrf}


async def login(http: aiohttp.ClientSession, base: str, email: str, password: str) -> Dict[str, str]:
    async with http.post(f"{base}/api/login", json={"email": email, "password": password}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"login {email}: {resp.status} {await resp.text()}")
        return session_headers(resp, (await resp.json())["csrf"])


async def call(http: aiohttp.ClientSession, method: str, url: str, headers: Dict[str, str],
               body: Any = None, timeout: float = 60.0) -> Tuple[int, Any]:
    async with http.request(method, url, json=body, headers=headers,
                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text else None


class Arrivals:
    """wamid -> wall time its line reached the owning agent's websocket (awaitable)."""

    def __init__(self) -> None:
        self.at: Dict[str, float] = {}
        self._waiters: Dict[str, asyncio.Future] = {}

    def arrived(self, wamid: str, at: float) -> None:
        self.at.setdefault(wamid, at)
        waiter = self._waiters.pop(wamid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    async def wait(self, wamid: str, timeout: float) -> bool:
        if wamid in self.at:
            return True
        waiter = self._waiters.setdefault(wamid, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class Desk:
    """The agents' shared view: who owns which chat, who waits for a claim."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.owner: Dict[str, str] = {}            # wa_id -> agent id (assigned chats)
        self.claiming: set = set()                  # ticket ids someone is claiming
        self.waiting: Dict[str, asyncio.Future] = {}  # wa_id -> (agent, ticket id) once claimed
        self.arrivals = Arrivals()
        self.conflicts = 0
        self.wrong_agent = 0
        self.claims = 0


class Agent:
    """One logged-in agent: console websocket, claims from the queue, replies, resolves."""

    def __init__(self, agent_id: str, base: str, http: aiohttp.ClientSession, desk: Desk,
                 rng: random.Random) -> None:
        self.id, self.base, self.http, self.desk, self.rng = agent_id, base, http, desk, rng
        self.headers: Dict[str, str] = {}
        self.chats: Dict[str, str] = {}   # wa_id -> ticket id
        self.reconnects = 0
        self.last_id = ""
        self.errors: List[str] = []

    async def login(self) -> None:
        self.headers = await login(self.http, self.base, f"{self.id}@bench.local", f"{self.id}-bench-password")

    async def follow(self, stop: asyncio.Event) -> None:
        """Read the live feed until ``stop``; reconnect (with replay) if the server drops us."""
        url = self.base.replace("http", "ws", 1) + "/api/live"
        while not stop.is_set():
            query = f"?last_id={self.last_id}" if self.last_id else ""
            try:
                async with websockets.connect(url + query, max_queue=None, additional_headers={
                        "Cookie": self.headers["Cookie"], "Origin": self.base}) as socket:
                    reader = asyncio.ensure_future(self._read(socket))
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (reader, stopper):
                        task.cancel()
                    await asyncio.gather(reader, stopper, return_exceptions=True)
            except (OSError, websockets.exceptions.WebSocketException) as exc:
                self.errors.append(f"websocket: {exc!r}")
            if not stop.is_set():
                self.reconnects += 1
                await asyncio.sleep(0.5)

    async def _read(self, socket: Any) -> None:
        async for raw in socket:
            now = wall()
            frame = json.loads(raw)
            if frame.get("id"):
                self.last_id = frame["id"]
            data = frame.get("data") or {}
            if frame.get("type") == "message" and data.get("kind") == "line":
                line = data["line"]
                if line.get("direction") != "in":
                    continue
                owner = self.desk.owner.get(line["wa_id"])
                if owner == self.id:
                    self.desk.arrivals.arrived(line["id"], now)
                elif owner is not None:
                    self.desk.wrong_agent += 1
            elif frame.get("type") == "ticket" and data.get("status") == "queued":
                asyncio.ensure_future(self.claim(data["id"], data["wa_id"]))

    async def poll_queue(self, stop: asyncio.Event) -> None:
        """The console's list view: pick up queued tickets a missed frame did not announce."""
        while not stop.is_set():
            try:
                status, body = await call(self.http, "GET", f"{self.base}/api/tickets?view=queue", self.headers)
                if status == 200:
                    for ticket in body["tickets"]:
                        if ticket["status"] == "queued":
                            asyncio.ensure_future(self.claim(ticket["id"], ticket["wa_id"]))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.errors.append(f"queue: {exc!r}")
            try:
                await asyncio.wait_for(stop.wait(), 3.0)
            except asyncio.TimeoutError:
                pass

    async def claim(self, ticket_id: str, wa_id: str) -> None:
        desk = self.desk
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))  # the agent notices the new chat
        if ticket_id in desk.claiming or len(self.chats) >= desk.capacity or wa_id in desk.owner:
            return
        desk.claiming.add(ticket_id)
        try:
            status, body = await call(self.http, "POST", f"{self.base}/api/tickets/{ticket_id}/claim", self.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.errors.append(f"claim: {exc!r}")
            desk.claiming.discard(ticket_id)
            return
        if status != 200:
            desk.conflicts += status == 409
            if status != 409:
                self.errors.append(f"claim {status}: {body}")
            desk.claiming.discard(ticket_id)
            return
        desk.claims += 1
        self.chats[wa_id] = ticket_id
        desk.owner[wa_id] = self.id
        waiter = desk.waiting.pop(wa_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result((self, ticket_id))

    async def reply(self, wa_id: str, text: str) -> Tuple[float, Optional[str]]:
        """(wall time just before the POST, wamid or None)."""
        started = wall()
        try:
            status, body = await call(self.http, "POST", f"{self.base}/api/tickets/{self.chats[wa_id]}/reply",
                                      self.headers, {"text": text})
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.errors.append(f"reply: {exc!r}")
            return started, None
        if status != 200:
            self.errors.append(f"reply {status}: {body}")
            return started, None
        return started, str(body["wamid"])

    async def resolve(self, wa_id: str) -> None:
        ticket_id = self.chats.pop(wa_id)
        self.desk.owner.pop(wa_id, None)
        self.desk.claiming.discard(ticket_id)
        try:
            status, body = await call(self.http, "POST", f"{self.base}/api/tickets/{ticket_id}/resolve",
                                      self.headers)
            if status != 200:
                self.errors.append(f"resolve {status}: {body}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.errors.append(f"resolve: {exc!r}")


# -- user groups -----------------------------------------------------------------------------

@dataclasses.dataclass
class HandoffRecord:
    shown: List[Tuple[str, str]] = dataclasses.field(default_factory=list)    # (wa_id, wamid) sent
    replies: List[Tuple[str, float, Optional[str]]] = dataclasses.field(default_factory=list)
    sessions: int = 0
    claim_timeouts: int = 0


async def pause_until(seconds: float, end: float) -> None:
    await asyncio.sleep(max(0.0, min(seconds, end - wall())))


async def bot_customer(sandbox: Sandbox, wa_id: str, end: float, think: Callable[[], float],
                       first_delay: float, max_turns: int, deadline: Deadline) -> int:
    """Walk the script (closed loop: the next turn ``think`` s after the reply); returns turns sent."""
    await pause_until(first_delay, end)
    sent = 0
    while wall() < end and sent < max_turns and deadline.left():
        wamid = await sandbox.say(wa_id, SCRIPT[sent % len(SCRIPT)], "Bench")
        sent += wamid is not None
        if wamid is not None:
            await wait_for_reply(sandbox, wa_id, wamid, deadline.left(REPLY_TIMEOUT_S))
        await pause_until(think(), end)
    return sent


async def handoff_customer(sandbox: Sandbox, desk: Desk, wa_id: str, end: float, think: Callable[[], float],
                           typing: Callable[[], float], first_delay: float, exchanges: int, max_sessions: int,
                           record: HandoffRecord, deadline: Deadline) -> None:
    """Ask the bot for a human, wait to be claimed, exchange messages with the agent, get resolved,
    start over; until ``end``."""
    await pause_until(first_delay, end)
    loop = asyncio.get_running_loop()
    n = 0
    while wall() < end and record.sessions < max_sessions and deadline.left():
        waiter = desk.waiting[wa_id] = loop.create_future()
        if await sandbox.say(wa_id, ASK_HUMAN, "Handoff Bench") is None:
            await pause_until(think(), end)
            continue
        try:
            agent, _ = await asyncio.wait_for(waiter, deadline.left(REPLY_TIMEOUT_S))
        except asyncio.TimeoutError:
            record.claim_timeouts += 1
            desk.waiting.pop(wa_id, None)
            return  # the ticket stays queued: further messages would go to the queue, not a chat
        record.sessions += 1
        for _ in range(exchanges):
            if wall() >= end or not deadline.left():
                break
            wamid = await sandbox.say(wa_id, HANDOFF_TEXTS[n % len(HANDOFF_TEXTS)], "Handoff Bench")
            n += 1
            if wamid is None:
                continue
            record.shown.append((wa_id, wamid))
            if not await desk.arrivals.wait(wamid, deadline.left(SHOW_TIMEOUT_S)):
                continue  # counted as not shown unless it turns up before the end of the run
            await asyncio.sleep(typing())
            started, reply_wamid = await agent.reply(wa_id, f"Let me check that for you ({wa_id[-3:]}-{n})")
            record.replies.append((wa_id, started, reply_wamid))
            await pause_until(think(), end)
        await agent.resolve(wa_id)
        await pause_until(think(), end)


# -- campaign --------------------------------------------------------------------------------

class Campaign:
    def __init__(self, http: aiohttp.ClientSession, base: str, headers: Dict[str, str]) -> None:
        self.http, self.base, self.headers = http, base, headers
        self.id = ""

    async def create(self) -> None:
        status, body = await call(self.http, "POST", f"{self.base}/api/templates/sync", self.headers)
        status, body = await call(self.http, "GET", f"{self.base}/api/templates", self.headers)
        template = next(t for t in body["templates"] if t["name"] == "spring_sale" and t["status"] == "APPROVED")
        status, body = await call(self.http, "POST", f"{self.base}/api/campaigns", self.headers, {
            "name": "platform load", "template_id": template["_id"], "rate": CAMPAIGN_RATE,
            "variables": {"first_name": {"attr": "first_name", "default": "there"}, "discount": {"value": "20%"}},
            "segment": {"filter": {"tags": "any", "values": [CAMPAIGN_TAG]}}})
        if status != 201:
            raise RuntimeError(f"campaign create: {status} {body}")
        self.id = body["_id"]

    async def start(self, deadline: Deadline) -> Dict[str, Any]:
        """POST start (the snapshot runs inside it); if that request fails, wait for the
        service's maintenance to finish the snapshot."""
        started = time.perf_counter()
        try:
            status, body = await call(self.http, "POST", f"{self.base}/api/campaigns/{self.id}/start",
                                      self.headers, timeout=deadline.left(900))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            status, body = 0, repr(exc)
        while (body is None or not isinstance(body, dict) or not body.get("snapshot_done")) and deadline.left():
            await asyncio.sleep(2)
            _, body = await call(self.http, "GET", f"{self.base}/api/campaigns/{self.id}", self.headers)
        return {"start_status": status, "snapshot_s": round(time.perf_counter() - started, 1),
                "audience": (body or {}).get("stats", {}).get("audience") if isinstance(body, dict) else None}

    async def stats(self) -> Dict[str, Any]:
        status, body = await call(self.http, "GET", f"{self.base}/api/campaigns/{self.id}", self.headers)
        return dict(body.get("stats") or {}) if status == 200 else {}

    async def act(self, action: str) -> int:
        status, _ = await call(self.http, "POST", f"{self.base}/api/campaigns/{self.id}/{action}", self.headers)
        return status


class Monitor:
    """Every 2 s: the campaign's counters, and the backlog in front of each stage (sandbox webhook
    queue, raw inbound stream before the fan-out, contact partitions before the router, and each
    consumer group's unread + unacknowledged entries on the events and handoff inbox streams)."""

    def __init__(self, campaign: Campaign, sandbox: Sandbox, redis_url: str) -> None:
        import redis.asyncio as aioredis

        self.campaign, self.sandbox = campaign, sandbox
        self.redis = aioredis.from_url(redis_url, decode_responses=True)
        self.samples: List[Tuple[float, Dict[str, Any]]] = []
        self.queues: List[Tuple[float, Dict[str, int]]] = []

    async def backlog(self) -> Dict[str, int]:
        from connectors import keys

        health = await self.sandbox.get("/_sandbox/health")
        out = {"sandbox webhooks pending": int(health.get("pending_webhooks", 0))}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(keys.INBOUND_STREAM)
            pipe.xlen(keys.INBOUND_STATUS_STREAM)
            for i in range(16):
                pipe.xlen(keys.inbound_partition(i))
            lengths = await pipe.execute()
        out["raw inbound messages (before fan-out)"] = int(lengths[0])
        out["raw inbound statuses (before fan-out)"] = int(lengths[1])
        out["contact partitions (before router)"] = int(sum(lengths[2:]))
        for stream in (keys.EVENTS_STREAM, keys.HANDOFF_INBOX_STREAM):
            try:
                groups = await self.redis.xinfo_groups(stream)
            except Exception:  # the stream does not exist yet
                continue
            for group in groups:
                if group.get("lag") is not None:
                    out[f"{stream} {group['name']}"] = int(group["lag"]) + int(group.get("pending") or 0)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if self.campaign.id:
                    self.samples.append((wall(), await self.campaign.stats()))
                self.queues.append((wall(), await self.backlog()))
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                log(f"monitor sample failed: {exc!r}")
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)
            except asyncio.TimeoutError:
                pass
        await self.redis.aclose()

    def backlog_summary(self, window: Tuple[float, float]) -> Dict[str, Dict[str, int]]:
        """Per queue: the largest and the last backlog sampled in ``window``."""
        inside = [q for at, q in self.queues if window[0] <= at <= window[1]]
        names = sorted({name for q in inside for name in q})
        return {name: {"max": max(q.get(name, 0) for q in inside), "last": inside[-1].get(name, 0)}
                for name in names}


def campaign_messages(outbox: List[Dict[str, Any]], campaign_id: str) -> List[Dict[str, Any]]:
    prefix = f"campaign:{campaign_id}:"
    return [m for m in outbox if m["type"] == "template"
            and str(m["payload"].get("biz_opaque_callback_data", "")).startswith(prefix)]


def level_times(messages: List[Dict[str, Any]], levels: Tuple[str, ...]) -> List[float]:
    """Sorted times at which each message first reached one of ``levels`` at the sandbox."""
    times = []
    for m in messages:
        reached = [s["at"] for s in m["statuses"] if s["status"] in levels]
        if reached:
            times.append(min(reached))
    return sorted(times)


def rollup_lag(samples: List[Tuple[float, Dict[str, Any]]], emitted: List[float], counter: str,
               window: Tuple[float, float]) -> List[float]:
    """Per sample in ``window``: age of the oldest status the sandbox had sent that the counter
    does not include yet (statuses counted in the order sent; 0 when caught up)."""
    lags = []
    for at, stats in samples:
        if not window[0] <= at <= window[1]:
            continue
        counted = int(stats.get(counter, 0))
        oldest = emitted[counted] if counted < len(emitted) else None
        lags.append(max(0.0, at - oldest) if oldest is not None and oldest <= at else 0.0)
    return lags


def send_rate(accepted: List[float], window: Tuple[float, float], finished: bool) -> Dict[str, Any]:
    """Messages accepted per second in ``window``; a campaign that ``finished`` sending inside
    the window is measured up to its last send."""
    inside = [t for t in accepted if window[0] <= t < window[1]]
    last = inside[-1] if finished and inside and inside[-1] == accepted[-1] else window[1]
    seconds = max(1e-6, last - window[0])
    return {"sent": len(inside), "seconds": round(seconds, 1), "msgs_per_s": round(len(inside) / seconds, 1),
            "finished_in_window": last != window[1]}


def campaign_result(messages: List[Dict[str, Any]], samples: List[Tuple[float, Dict[str, Any]]],
                    window: Tuple[float, float], audience: int) -> Dict[str, Any]:
    accepted = sorted(m["at"] for m in messages)
    finished = len({m["to"] for m in messages}) >= audience
    delivered = level_times(messages, ("delivered", "read"))
    read = level_times(messages, ("read",))
    return {"send_rate": send_rate(accepted, window, finished),
            "delivered_rollup_lag": summary(rollup_lag(samples, delivered, "delivered", window)),
            "read_rollup_lag": summary(rollup_lag(samples, read, "read", window))}


# -- analysis of the sandbox's record ---------------------------------------------------------

def bot_turns(conversations: Dict[str, List[Dict[str, Any]]], window: Tuple[float, float]) -> Dict[str, Any]:
    """Inbound -> first business reply, per inbound message sent in ``window`` (sandbox clock)."""
    latencies: List[float] = []
    unanswered: List[str] = []
    for wa_id, messages in conversations.items():
        inbound = [m for m in messages if m["direction"] == "in"]
        outbound = [m for m in messages if m["direction"] == "out"]
        for k, message in enumerate(inbound):
            if len(outbound) == len(inbound):
                reply: Optional[Dict[str, Any]] = outbound[k]  # one reply per turn, in order
            else:
                following = messages[messages.index(message) + 1:]
                nxt = next((i for i, m in enumerate(following) if m["direction"] == "in"), len(following))
                reply = next((m for m in following[:nxt] if m["direction"] == "out"), None)
            if not window[0] <= message["at"] < window[1]:
                continue
            if reply is None:
                unanswered.append(message["wamid"])
            else:
                latencies.append(reply["at"] - message["at"])
    turns = len(latencies) + len(unanswered)
    return {"latency": summary(latencies), "turns": turns,
            "turns_per_s": round(turns / max(1e-6, window[1] - window[0]), 2),
            "unanswered": len(unanswered), "unanswered_wamids": unanswered[:20]}


def handoff_result(record: HandoffRecord, arrivals: Arrivals,
                   conversations: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    at = {m["wamid"]: m["at"] for messages in conversations.values() for m in messages}
    shown = [arrivals.at[w] - at[w] for _, w in record.shown if w in arrivals.at and w in at]
    replied = [at[w] - started for _, started, w in record.replies if w and w in at]
    return {"customer_to_agent": summary(shown), "agent_reply_to_customer": summary(replied),
            "customer_messages": len(record.shown),
            "not_shown": sum(1 for _, w in record.shown if w not in arrivals.at),
            "replies": len(record.replies), "reply_errors": sum(1 for r in record.replies if not r[2]),
            "replies_missing_at_sandbox": sum(1 for r in record.replies if r[2] and r[2] not in at),
            "sessions": record.sessions, "claim_timeouts": record.claim_timeouts}


async def conversations_of(sandbox: Sandbox, wa_ids: Sequence[str]) -> Dict[str, List[Dict[str, Any]]]:
    gate = asyncio.Semaphore(8)

    async def one(wa_id: str) -> Tuple[str, List[Dict[str, Any]]]:
        async with gate:
            return wa_id, await sandbox.conversation(wa_id)

    return dict(await asyncio.gather(*(one(w) for w in wa_ids)))


# -- the run ---------------------------------------------------------------------------------

async def drive(args: argparse.Namespace, running: RunningPlatform, sup: Supervisor,
                deadline: Deadline) -> Dict[str, Any]:
    rng = random.Random(args.seed)
    think_lo, think_hi = args.think
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        sandbox = Sandbox(http, running.sandbox_url)
        result: Dict[str, Any] = {}

        # Ready: a first customer's message is answered (model loaded, actions up, consumer on).
        warm = await sandbox.say("919860000001", "hi", "Warm Up")
        if not warm or not await wait_for_reply(sandbox, "919860000001", warm, deadline.left(180)):
            raise RuntimeError("the bot did not answer the warm-up message")

        # Accounts: agents (admin API), their sessions and websockets; a broadcasts API token.
        admin = await login(http, running.handoff_url, running.admin_email, running.admin_password)
        capacity = max(1, math.ceil(args.handoff_customers / args.agents))
        desk = Desk(capacity)
        agents = [Agent(f"agent{i:02d}", running.handoff_url, http, desk, rng) for i in range(args.agents)]
        for agent in agents:
            status, body = await call(http, "POST", f"{running.handoff_url}/api/agents", admin, {
                "id": agent.id, "email": f"{agent.id}@bench.local", "password": f"{agent.id}-bench-password",
                "capacity": capacity})
            if status != 201:
                raise RuntimeError(f"create agent {agent.id}: {status} {body}")
            await agent.login()
        status, body = await call(http, "POST", f"{running.handoff_url}/api/tokens", admin, {"label": "bench"})
        if status not in (200, 201):
            raise RuntimeError(f"API token: {status} {body}")
        campaign = Campaign(http, running.broadcasts_url, {"Authorization": f"Bearer {body['token']}"})
        await campaign.create()
        stop_agents = asyncio.Event()
        agent_tasks = [asyncio.ensure_future(a.follow(stop_agents)) for a in agents] + \
            [asyncio.ensure_future(a.poll_queue(stop_agents)) for a in agents]
        await asyncio.sleep(1.0)

        # -- idle baselines, one group at a time -------------------------------------------------
        marks = {"idle_start": cpu_mark(sup)}
        log("idle baseline: bot")
        idle_bot = "919850000001"
        t0 = wall()
        await bot_customer(sandbox, idle_bot, t0 + 600, lambda: 1.0, 0.0, 2 * len(SCRIPT), deadline)
        idle_bot_window = (t0, wall())
        log("idle baseline: handoff")
        idle_record = HandoffRecord()
        await handoff_customer(sandbox, desk, "919850000002", wall() + 600, lambda: 1.0, lambda: 0.5, 0.0,
                               IDLE_EXCHANGES, 1, idle_record, deadline)
        await asyncio.sleep(2.0)
        idle_conversations = await conversations_of(sandbox, [idle_bot, "919850000002"])
        result["idle"] = {"bot": bot_turns({idle_bot: idle_conversations[idle_bot]}, idle_bot_window),
                          "handoff": handoff_result(idle_record, desk.arrivals, idle_conversations)}
        marks["idle_end"] = cpu_mark(sup)

        log(f"campaign: start (snapshot of {args.recipients} recipients)")
        stop_sampling = asyncio.Event()
        monitor = Monitor(campaign, sandbox, running.redis_url)
        sampler = asyncio.ensure_future(monitor.run(stop_sampling))
        result["campaign_start"] = await campaign.start(deadline)
        log(f"campaign started: {result['campaign_start']}; alone for {args.campaign_baseline} s")
        marks["campaign_alone_start"] = cpu_mark(sup)
        campaign_idle_window = (wall(), wall() + args.campaign_baseline)
        await asyncio.sleep(deadline.left(args.campaign_baseline))
        marks["campaign_alone_end"] = marks["load_start"] = cpu_mark(sup)

        # -- the load --------------------------------------------------------------------------
        load_start = wall()
        end = load_start + args.duration
        log(f"load: {args.customers} bot customers, {args.handoff_customers} handoff customers, "
            f"{args.agents} agents, campaign running; {args.duration} s")
        bot_ids = [f"91983{i:07d}" for i in range(args.customers)]
        handoff_ids = [f"91984{i:07d}" for i in range(args.handoff_customers)]
        max_turns = int(args.duration / max(0.5, think_lo)) + 2
        load_record = HandoffRecord()
        tasks = [asyncio.ensure_future(bot_customer(
            sandbox, w, end, lambda: rng.uniform(think_lo, think_hi), rng.uniform(0, think_hi), max_turns, deadline))
            for w in bot_ids]
        tasks += [asyncio.ensure_future(handoff_customer(
            sandbox, desk, w, end, lambda: rng.uniform(5, 15), lambda: rng.uniform(2, 6), rng.uniform(0, 10),
            EXCHANGES, max_turns, load_record, deadline)) for w in handoff_ids]
        await asyncio.sleep(deadline.left(args.duration))
        marks["load_end"] = cpu_mark(sup)
        load_window = (load_start, wall())
        log("load over: draining in-flight turns")
        done, pending = await asyncio.wait(tasks, timeout=deadline.left(SHOW_TIMEOUT_S + 30)) \
            if tasks else (set(), set())
        for task in pending:
            task.cancel()
        failures = [repr(t.exception()) for t in done if not t.cancelled() and t.exception()]
        result["load_tasks"] = {"done": len(done), "cut": len(pending), "failed": failures[:10]}
        result["campaign_pause_status"] = await campaign.act("pause")

        # Let the last statuses go out, then read the sandbox's record once.
        await asyncio.sleep(deadline.left(10))
        outbox = (await sandbox.get("/_sandbox/outbox"))["messages"]
        messages = campaign_messages(outbox, campaign.id)
        delivered_n = len(level_times(messages, ("delivered", "read")))
        read_n = len(level_times(messages, ("read",)))
        caught_up = None
        wait_from, stats_before = time.monotonic(), await campaign.stats()
        while deadline.left(120) and time.monotonic() - wait_from < 120:
            stats = await campaign.stats()
            if int(stats.get("delivered", 0)) >= delivered_n and int(stats.get("read", 0)) >= read_n:
                caught_up = round(time.monotonic() - wait_from, 1)
                break
            await asyncio.sleep(1.0)
        stop_sampling.set()
        await sampler
        final_stats = await campaign.stats()
        waited = max(1e-6, time.monotonic() - wait_from)
        counted_per_s = sum(int(final_stats.get(k, 0)) - int(stats_before.get(k, 0))
                            for k in ("delivered", "read")) / waited
        stop_agents.set()
        await asyncio.gather(*agent_tasks, return_exceptions=True)

        conversations = await conversations_of(sandbox, bot_ids)
        handoff_conversations = await conversations_of(sandbox, handoff_ids)
        audience = int(result["campaign_start"].get("audience") or args.recipients)
        first_send: Dict[str, float] = {}
        resent_after: List[float] = []
        for m in sorted(messages, key=lambda m: m["at"]):
            if m["to"] in first_send:
                resent_after.append(m["at"] - first_send[m["to"]])
            first_send.setdefault(m["to"], m["at"])
        result.update({
            "load": {"bot": bot_turns(conversations, load_window),
                     "handoff": handoff_result(load_record, desk.arrivals, handoff_conversations)},
            "campaign": {
                "id": campaign.id,
                "alone": campaign_result(messages, monitor.samples, campaign_idle_window, audience),
                "under_load": campaign_result(messages, monitor.samples, load_window, audience),
                "sandbox_accepted_total": len(messages), "sandbox_delivered": delivered_n, "sandbox_read": read_n,
                "duplicates": len(resent_after), "duplicate_sent_again_after": summary(resent_after),
                "final_stats": final_stats, "rollup_caught_up_after_pause_s": caught_up,
                "rollup_after_pause": {"seconds": round(waited, 1),
                                       "delivered_read_counted_per_s": round(counted_per_s, 1)}},
            "backlogs": {"campaign_alone": monitor.backlog_summary(campaign_idle_window),
                         "load": monitor.backlog_summary(load_window)},
            "agents": {"claims": desk.claims, "claim_conflicts": desk.conflicts, "wrong_agent_lines": desk.wrong_agent,
                       "websocket_reconnects": sum(a.reconnects for a in agents),
                       "errors": [e for a in agents for e in a.errors][:20]},
            "inject_errors": sandbox.inject_errors,
            "outbox_total": len(outbox),
            "windows": {"idle_bot": idle_bot_window, "campaign_alone": campaign_idle_window, "load": load_window},
            "cpu": {"idle_baselines": cpu_between(marks["idle_start"], marks["idle_end"]),
                    "campaign_alone": cpu_between(marks["campaign_alone_start"], marks["campaign_alone_end"]),
                    "load": cpu_between(marks["load_start"], marks["load_end"])},
        })
        return result


def run(args: argparse.Namespace) -> Dict[str, Any]:
    deadline = Deadline(args.time_limit)
    load_before = tuple(round(x, 2) for x in os.getloadavg())
    commit = git_commit()
    data_dir = Path(tempfile.mkdtemp(prefix="platform_load_"))
    log_dir = Path(tempfile.gettempdir()) / "platform_load_logs"  # kept after the run
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir()
    sup = Supervisor(log_dir=log_dir)
    started = time.perf_counter()
    mongo = BenchMongo.from_env("platform_load", "parley", data_dir / "mongo")
    try:
        running = start_stack(args, data_dir, sup, mongo)
        start_s = time.perf_counter() - started
        log(f"platform up in {start_s:.1f} s; seeding {args.recipients} contacts")
        seed_s = seed_contacts(running.mongodb_url, running.mongodb_db, args.recipients)
        log(f"seeded in {seed_s:.1f} s")
        try:
            import uvloop
            uvloop.install()
        except ImportError:
            pass
        result = asyncio.run(drive(args, running, sup, deadline))
        dead = [c.name for c in sup.children if c.process.poll() is not None]
        errors = log_errors(sup)  # before the shutdown, whose noise is not the run's
    finally:
        sup.stop_all(grace=15)
        mongo.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    result.update({
        "command": "python bench/platform_load.py " + " ".join(sys.argv[1:]),
        "settings": {"duration_s": args.duration, "customers": args.customers,
                     "handoff_customers": args.handoff_customers, "agents": args.agents,
                     "recipients": args.recipients, "think_s": list(args.think),
                     "campaign_baseline_s": args.campaign_baseline, "campaign_rate": CAMPAIGN_RATE,
                     "sandbox": SANDBOX_ENV, "services": SERVICES_ENV, "seed": args.seed},
        "platform_start_s": round(start_s, 1), "seed_contacts_s": round(seed_s, 1),
        "processes_dead_at_end": dead, "logs": str(log_dir), "log_errors": errors,
        "mongodb": mongo.label,
        "cut_by_time_limit": deadline.hit,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "node": platform.node(),
                    "load_avg_before": load_before, "load_avg_after": tuple(round(x, 2) for x in os.getloadavg())},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
    })
    return result


def git_commit() -> str:
    """HEAD, with "+changes" when the working tree differs from it (what the run measured)."""
    import subprocess

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    return f"{head}+changes" if head and git("status", "--porcelain", "--untracked-files=no") else head


def log_errors(sup: Supervisor) -> Dict[str, int]:
    """ERROR lines and tracebacks each process logged during the run."""
    counts = {}
    for child in sup.children:
        if child.log_path is not None and child.log_path.exists():
            text = child.log_path.read_text(errors="replace")
            counts[child.name] = sum(1 for line in text.splitlines()
                                     if " ERROR " in line or line.startswith("Traceback"))
    return counts


def table(r: Dict[str, Any]) -> str:
    idle, load, camp = r["idle"], r["load"], r["campaign"]
    rows = [("bot customers", "inbound -> first bot reply at the sandbox", idle["bot"]["latency"],
             load["bot"]["latency"], f"{load['bot']['unanswered']} unanswered of {load['bot']['turns']} "
             f"({load['bot']['turns_per_s']}/s)"),
            ("handoff customers", "customer message -> owner's websocket", idle["handoff"]["customer_to_agent"],
             load["handoff"]["customer_to_agent"],
             f"{load['handoff']['not_shown']} never shown of {load['handoff']['customer_messages']}"),
            ("agents", "agent reply (API) -> customer's phone", idle["handoff"]["agent_reply_to_customer"],
             load["handoff"]["agent_reply_to_customer"],
             f"{load['handoff']['reply_errors'] + load['handoff']['replies_missing_at_sandbox']} lost "
             f"of {load['handoff']['replies']}"),
            ("campaign", "delivered roll-up lag (sampled every 2 s)", camp["alone"]["delivered_rollup_lag"],
             camp["under_load"]["delivered_rollup_lag"], ""),
            ("campaign", "read roll-up lag (sampled every 2 s)", camp["alone"]["read_rollup_lag"],
             camp["under_load"]["read_rollup_lag"], "")]
    lines = ["| group | path | idle n | idle p50 ms | idle p99 ms | load n | load p50 ms | p90 ms | p99 ms | "
             "max ms | p50 x | p99 x | lost |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for group, path, i, l_, lost in rows:
        x = ratios(l_, i)
        lines.append(f"| {group} | {path} | {i['n']} | {i.get('p50_ms', '-')} | {i.get('p99_ms', '-')} | {l_['n']} | "
                     f"{l_.get('p50_ms', '-')} | {l_.get('p90_ms', '-')} | {l_.get('p99_ms', '-')} | "
                     f"{l_.get('max_ms', '-')} | {x['p50_ms'] or '-'} | {x['p99_ms'] or '-'} | {lost} |")
    alone, loaded = camp["alone"]["send_rate"], camp["under_load"]["send_rate"]
    ratio = round(loaded["msgs_per_s"] / alone["msgs_per_s"], 2) if alone["msgs_per_s"] else "-"
    lines += ["", "| campaign send rate | alone | under load | ratio |", "|---|---:|---:|---:|",
              f"| msg/s accepted by the sandbox | {alone['msgs_per_s']} ({alone['sent']} in {alone['seconds']} s) | "
              f"{loaded['msgs_per_s']} ({loaded['sent']} in {loaded['seconds']} s"
              f"{', then the campaign was done' if loaded['finished_in_window'] else ''}) | {ratio} |", ""]
    cpu = r["cpu"]["load"]
    stats, after = camp["final_stats"], camp["rollup_after_pause"]
    caught = camp["rollup_caught_up_after_pause_s"]
    start = r["campaign_start"]
    again = camp["duplicate_sent_again_after"]
    lines.append(f"Snapshot of {start.get('audience')} recipients: {start['snapshot_s']} s. "
                 f"Campaign messages accepted by the sandbox: {camp['sandbox_accepted_total']}; recipients sent "
                 f"the template twice: {camp['duplicates']}"
                 + (f" (again after p50 {again['p50_ms'] / 1000:.0f} s, max {again['max_ms'] / 1000:.0f} s)"
                    if again["n"] else "")
                 + f"; failed {stats.get('failed', 0)}. Roll-up: "
                 + (f"caught up {caught} s after the pause" if caught is not None else
                    f"not caught up {after['seconds']} s after the pause")
                 + f" (counted delivered {stats.get('delivered', 0)} of {camp['sandbox_delivered']}, read "
                 f"{stats.get('read', 0)} of {camp['sandbox_read']}; {after['delivered_read_counted_per_s']} "
                 f"statuses counted/s meanwhile).")
    backlog = r["backlogs"]["load"]
    lines.append("Largest backlog sampled during the load (entries): "
                 + ", ".join(f"{name} {v['max']} (last {v['last']})" for name, v in backlog.items()) + ".")
    lines.append(f"During the load: machine {cpu['machine_busy_pct']} % busy (all processes, incl. other users), "
                 f"load average {cpu['load_avg_at_end']}; cores by process: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(cpu["cores_by_process"].items(), key=lambda kv: -kv[1]))
                 + f", bench client {cpu['bench_client_cores']}.")
    lines.append("ERROR lines / tracebacks in the process logs: "
                 + (", ".join(f"{k} {v}" for k, v in r["log_errors"].items() if v) or "none") + ".")
    return "\n".join(lines)


def failed(r: Dict[str, Any]) -> bool:
    ho = r["load"]["handoff"]
    return bool(r["load"]["bot"]["unanswered"] or r["idle"]["bot"]["unanswered"] or ho["not_shown"]
                or ho["reply_errors"] or ho["replies_missing_at_sandbox"] or ho["claim_timeouts"]
                or r["load_tasks"]["failed"] or r["cut_by_time_limit"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of combined load")
    parser.add_argument("--customers", type=int, default=200, help="bot customers")
    parser.add_argument("--handoff-customers", type=int, default=20)
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--recipients", type=int, default=100_000, help="campaign audience (seeded contacts)")
    parser.add_argument("--think", type=lambda s: tuple(float(x) for x in s.split(",")), default=(10.0, 30.0),
                        help="bot customers' think time between a reply and their next message: min,max s")
    parser.add_argument("--campaign-baseline", type=float, default=20.0, help="seconds the campaign sends alone")
    parser.add_argument("--time-limit", type=float, default=None, help="whole run (default: duration + 1500 s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bot-python", default=str(ROOT / ".envs" / "bot" / "bin" / "python"))
    args = parser.parse_args()
    args.time_limit = args.time_limit or args.duration + 1500
    result = run(args)
    out = ROOT / "bench" / "results" / "platform_load.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())

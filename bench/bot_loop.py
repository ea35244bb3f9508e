"""Bot loop benchmark: a customer's message in at the sandbox -> signed webhook -> connector ->
Rasa -> reply at the sandbox, beside Rasa's own in-process handling time, in the same run.

    .envs/services/bin/python bench/bot_loop.py \
        [--count 200] [--customers 20] [--rate 5] [--time-limit 90] [--bot-python .envs/bot/bin/python]

Everything on 127.0.0.1, private processes on free ports: redis-server, the MongoDB-compatible
server (the tracker store archives finished sessions there), the sandbox (statuses deferred, no
limits), the action server and ``rasa run`` with bot/credentials.yml and bot/endpoints.yml and the
fast model (bot/train.py, cached by content hash). The client sends ``--count`` text messages
through ``POST /_sandbox/customers/{wa_id}/messages`` at ``--rate`` per second (open loop),
round-robin over ``--customers`` customers, so one customer writes every customers/rate
seconds. A turn's latency is measured on the sandbox's clock, from the inbound message to the
first and to the last reply sent before that customer's next message; the ``rasa run``
process's CPU time per turn is read from /proc (robust to the shared machine's other load).

Then Rasa is stopped and the same model, stores (LiveSessionTrackerStore + RedisLockStore on a
separate Redis database) and action server handle the same messages in one bot-env process,
one at a time: ``Agent.handle_message`` with a ``CollectingOutputChannel`` (NLU, policies,
actions, tracker and lock stores; no webhook, no queue, no Graph call), with its CPU time.

Results: ``bench/results/bot_loop.json``. Exit 1 if a turn got no reply or the run was cut
by the time limit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXTS = ("hi", "what are your store hours", "thanks", "bye")
RASA_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "RASA_TELEMETRY_ENABLED": "false"}
RASA_CLI = "import sys\nimport skops.io\nfrom rasa.__main__ import main\nsys.argv = ['rasa'] + sys.argv[1:]\nmain()\n"
SANDBOX = {"access_token": "sandbox-token", "app_secret": "sandbox-secret", "verify_token": "sandbox-verify",
           "phone_number_id": "100000000000001", "version": "v23.0"}


def customers(n: int) -> List[str]:
    return [f"9198100{i:05d}" for i in range(n)]


def plan(count: int, n_customers: int) -> List[tuple]:
    """(wa_id, text) in sending order: round-robin over customers, each cycling through TEXTS."""
    people = customers(n_customers)
    return [(people[i % n_customers], TEXTS[(i // n_customers) % len(TEXTS)]) for i in range(count)]


def percentiles(values: Sequence[float]) -> Dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}


# -- the in-process side (runs in the bot env: `python bench/bot_loop.py --in-process ...`) -------

async def in_process(args: argparse.Namespace) -> Dict[str, Any]:
    import logging

    import skops.io  # noqa: F401  (before TensorFlow: fast model loading)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.lock_store import RedisLockStore
    from rasa.utils.endpoints import EndpointConfig

    from bot.stores.tracker_store import LiveSessionTrackerStore

    store = LiveSessionTrackerStore(None, host="127.0.0.1", port=args.redis_port, db=1, key_prefix="parley",
                                    record_exp=2592000, mongodb_url=args.mongodb_url, mongodb_db="bench_inprocess")
    locks = RedisLockStore(host="127.0.0.1", port=args.redis_port, db=1, key_prefix="parley")
    agent = Agent.load(args.model, tracker_store=store, lock_store=locks,
                       action_endpoint=EndpointConfig(args.action_url))
    timings: List[float] = []
    opening: List[float] = []
    seen = set()
    replies = 0
    cpu_before = time.process_time()
    for wa_id, text in plan(args.count, args.customers):
        started = time.perf_counter()
        out = await agent.handle_message(UserMessage(text, CollectingOutputChannel(), wa_id,
                                                     input_channel="whatsapp"))
        timings.append(time.perf_counter() - started)
        if wa_id not in seen:
            seen.add(wa_id)
            opening.append(timings[-1])
        replies += len(out or [])
    cpu_ms = (time.process_time() - cpu_before) * 1000 / max(1, len(timings))
    if store.flusher is not None:
        await store.flusher.stop()
    return {"turns": percentiles(timings), "opening": percentiles(opening), "cpu_ms_per_turn": round(cpu_ms, 2),
            "later": percentiles([t for i, t in enumerate(timings) if i >= args.customers]),
            "replies": replies}


# -- the orchestrating side (services env) ---------------------------------------------------------

def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            http("GET", url, timeout=1)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up (exit {process.poll()})")
            time.sleep(0.3)


def train(bot_python: str) -> str:
    proc = subprocess.run([bot_python, "bot/train.py", "--config", "fast"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **RASA_ENV}, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed: {proc.stderr[-1000:]}")
    return proc.stdout.strip().splitlines()[-1]


async def drive(sandbox_url: str, plan_: List[tuple], rate: float, time_limit: float) -> Dict[str, Any]:
    """Open loop: message i is sent at start + i / rate; returns how many were sent in time."""
    import aiohttp

    sent = 0
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async def one(wa_id: str, text: str) -> None:
            nonlocal sent
            async with session.post(f"{sandbox_url}/_sandbox/customers/{wa_id}/messages",
                                    json={"type": "text", "text": {"body": text}}) as resp:
                resp.raise_for_status()
                await resp.read()
            sent += 1

        tasks = []
        for i, (wa_id, text) in enumerate(plan_):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() - started > time_limit:
                break
            tasks.append(asyncio.ensure_future(one(wa_id, text)))
        await asyncio.gather(*tasks)
    return {"sent": sent, "seconds": time.monotonic() - started}


def turns(sandbox_url: str, people: List[str]) -> Dict[str, Any]:
    """Per turn: first and last reply latency (sandbox clock), split into each customer's first
    turn (a new Rasa session: action_session_start on the action server) and the rest."""
    first: List[float] = []
    last: List[float] = []
    opening: List[float] = []
    later: List[float] = []
    unanswered = 0
    replies = 0
    for wa_id in people:
        messages = http("GET", f"{sandbox_url}/_sandbox/customers/{wa_id}/conversation")["messages"]
        inbound = sorted(m["at"] for m in messages if m["direction"] == "in")
        outbound = sorted(m["at"] for m in messages if m["direction"] == "out")
        replies += len(outbound)
        for k, at in enumerate(inbound):
            if len(outbound) == len(inbound):
                # One reply per message (every text of the plan): Rasa answers a customer's
                # messages in order, so the k-th reply is the k-th turn's, even when it comes
                # after the customer's next message (an overloaded machine).
                mine = [outbound[k]]
            else:
                until = inbound[k + 1] if k + 1 < len(inbound) else float("inf")
                mine = [o for o in outbound if at <= o < until]
            if not mine:
                unanswered += 1
                continue
            first.append(mine[0] - at)
            last.append(mine[-1] - at)
            (opening if k == 0 else later).append(mine[-1] - at)
    deliveries = http("GET", f"{sandbox_url}/_sandbox/webhooks")["deliveries"]
    return {"first_reply": percentiles(first), "turn_complete": percentiles(last),
            "session_opening_turns": percentiles(opening), "later_turns": percentiles(later),
            "unanswered": unanswered, "replies": replies, "webhooks": len(deliveries),
            "webhook_retries": sum(max(0, len(d["attempts"]) - 1) for d in deliveries)}


def settle(sandbox_url: str, quiet: float = 2.0, timeout: float = 60.0) -> None:
    """Wait until the outbox has not grown for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = len(http("GET", f"{sandbox_url}/_sandbox/outbox")["messages"])
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    from devstack import free_port, start_mongo, start_redis
    from devstack.processes import Supervisor
    from sender import start_sandbox  # bench/sender.py: statuses deferred, no limits
    from webhook_ingest import cpu_seconds

    bot_python = os.path.abspath(args.bot_python)  # not resolve(): a venv python is a symlink
    model = train(bot_python)
    ports = {name: free_port() for name in ("redis", "mongo", "sandbox", "actions", "rasa")}
    data_dir = Path(tempfile.mkdtemp(prefix="bot_loop_"))
    redis_url = f"redis://127.0.0.1:{ports['redis']}/0"
    mongo_url = f"mongodb://127.0.0.1:{ports['mongo']}/"
    sandbox_url = f"http://127.0.0.1:{ports['sandbox']}"
    action_url = f"http://127.0.0.1:{ports['actions']}/webhook"
    env = dict(os.environ, PYTHONPATH=str(ROOT), **RASA_ENV,
               WHATSAPP_VERIFY_TOKEN=SANDBOX["verify_token"], WHATSAPP_APP_SECRET=SANDBOX["app_secret"],
               WHATSAPP_ACCESS_TOKEN=SANDBOX["access_token"], WHATSAPP_PHONE_NUMBER_ID=SANDBOX["phone_number_id"],
               GRAPH_BASE_URL=sandbox_url, GRAPH_VERSION=SANDBOX["version"], REDIS_URL=redis_url,
               REDIS_HOST="127.0.0.1", REDIS_PORT=str(ports["redis"]), REDIS_DB="0",
               MONGODB_URL=mongo_url, MONGODB_DB="bench", ACTION_ENDPOINT_URL=action_url)
    log_dir = Path(tempfile.gettempdir()) / "bot_loop_logs"  # kept after the run: rasa's and the actions' output
    log_dir.mkdir(exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    sup = Supervisor(log_dir=log_dir)
    try:
        sup.adopt("redis", start_redis(ports["redis"]))
        sup.adopt("mongo", start_mongo(ports["mongo"], data_dir / "mongo"))
        sup.adopt("sandbox", start_sandbox(ports["sandbox"]))
        sup.start("actions", [bot_python, "-m", "rasa_sdk", "--actions", "bot.actions", "--port",
                              str(ports["actions"])], env=env, cwd=str(ROOT))
        rasa = sup.start("rasa", [bot_python, "-c", RASA_CLI, "run", "--model", model, "--credentials",
                                  "bot/credentials.yml", "--endpoints", "bot/endpoints.yml", "--port",
                                  str(ports["rasa"]), "--interface", "127.0.0.1"], env=env, cwd=str(ROOT)).process
        wait_http(f"http://127.0.0.1:{ports['rasa']}/webhooks/whatsapp/", rasa, timeout=120)
        http("PATCH", f"{sandbox_url}/_sandbox/config",
             {"webhook_url": f"http://127.0.0.1:{ports['rasa']}/webhooks/whatsapp/webhook"})
        # Warm up (model caches, connections) with customers outside the measured plan.
        warm = [(f"9198199{i:05d}", TEXTS[i % len(TEXTS)]) for i in range(20)]
        asyncio.run(drive(sandbox_url, warm, rate=10, time_limit=10))
        settle(sandbox_url, quiet=1.0)
        http("POST", f"{sandbox_url}/_sandbox/reset")
        http("PATCH", f"{sandbox_url}/_sandbox/config",
             {"webhook_url": f"http://127.0.0.1:{ports['rasa']}/webhooks/whatsapp/webhook"})

        the_plan = plan(args.count, args.customers)
        cpu_before = cpu_seconds(rasa.pid)
        driven = asyncio.run(drive(sandbox_url, the_plan, args.rate, args.time_limit))
        settle(sandbox_url)
        # Rasa's process CPU per turn (connector + Rasa, sandbox excluded): robust to the machine's other load.
        cpu_ms = (cpu_seconds(rasa.pid) - cpu_before) * 1000 / max(1, driven["sent"])
        loop = dict(turns(sandbox_url, customers(args.customers)), **driven, rasa_cpu_ms_per_turn=round(cpu_ms, 2))
        rasa.terminate()
        rasa.wait(timeout=30)

        inproc = subprocess.run([bot_python, str(Path(__file__).resolve()), "--in-process", "--model", model,
                                 "--redis-port", str(ports["redis"]), "--mongodb-url", mongo_url,
                                 "--action-url", action_url, "--count", str(driven["sent"]),
                                 "--customers", str(args.customers)],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        if inproc.returncode != 0:
            raise RuntimeError(f"in-process run failed: {inproc.stderr[-2000:]}")
        in_process_result = json.loads(inproc.stdout.strip().splitlines()[-1])
    finally:
        sup.stop_all(grace=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"loop": loop, "in_process": in_process_result, "model": Path(model).name,
            "settings": {"count": args.count, "customers": args.customers, "rate": args.rate,
                         "time_limit": args.time_limit},
            "machine": {"python": platform.python_version(), "load_avg": os.getloadavg(), "cpus": os.cpu_count()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def table(result: Dict[str, Any]) -> str:
    loop, inproc = result["loop"], result["in_process"]["turns"]
    rows = [("webhook in -> first reply at the sandbox", loop["first_reply"]),
            ("webhook in -> last reply of the turn", loop["turn_complete"]),
            ("  of which each customer's first turn (new session)", loop["session_opening_turns"]),
            ("  of which later turns", loop["later_turns"]),
            ("Agent.handle_message in-process", inproc),
            ("  of which each customer's first turn (new session)", result["in_process"]["opening"]),
            ("  of which later turns", result["in_process"]["later"])]
    lines = ["| path | turns | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {r['n']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |" for name, r in rows]
    lines.append(f"CPU per turn: rasa run process {loop['rasa_cpu_ms_per_turn']} ms (connector + Rasa), "
                 f"in-process Agent {result['in_process']['cpu_ms_per_turn']} ms")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--time-limit", type=float, default=90.0)
    parser.add_argument("--bot-python", default=str(ROOT / ".envs" / "bot" / "bin" / "python"))
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--redis-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mongodb-url", help=argparse.SUPPRESS)
    parser.add_argument("--action-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(asyncio.run(in_process(args))))
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    result = run(args)
    out = ROOT / "bench" / "results" / "bot_loop.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(json.dumps({k: result["loop"][k] for k in ("unanswered", "replies", "sent", "seconds", "webhooks",
                                                     "webhook_retries")}))
    return 1 if result["loop"]["unanswered"] or result["loop"]["sent"] < args.count else 0


if __name__ == "__main__":
    sys.exit(main())

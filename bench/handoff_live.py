"""Handoff live-view benchmark: a customer message of a human-owned chat -> shown on the owning
agent's console websocket, with 200 open chats, beside a raw Redis XADD -> XREAD round trip in
the same run.

    .envs/services/bin/python bench/handoff_live.py \
        [--chats 200] [--agents 10] [--count 1000] [--rate 50] [--time-limit 120]

Everything on 127.0.0.1, private processes on free ports: redis-server, the MongoDB-compatible
server (in memory) and ``python -m handoff`` (auto-assignment off, hand-back off). Setup through
the service's own API: ``--agents`` agents log in, ``--chats`` tickets are opened and assigned
round robin across them, and every agent's console websocket (``/api/live``) is connected.

Where a message enters: the handoff inbox stream (``parley:handoff:inbox``), exactly as the
connector's router appends it for a human-owned chat (``message.received`` event, same fields).
The webhook and Rasa-channel half in front of it is measured by bench/webhook_ingest.py; with
Rasa in the loop on this 2-core machine the figure would mostly measure Rasa. Messages go out
open loop at ``--rate`` per second, round robin over the chats; a message's latency runs from
just before its XADD to the moment its line arrives on the owner's websocket (one clock: the
benchmark process). The path measured: XADD -> the service's live copier (consumer group on
the inbox) -> the console feed stream -> the fan-out reader -> access filter -> websocket.

Baseline, same run, same Redis, same rate and count: XADD of an entry of the same size on a
scratch stream -> a blocked XREAD of that stream in the same process.

Results: ``bench/results/handoff_live.json``. Exit 1 if a message was not shown within 10 s,
shown to the wrong agent, or the run was cut by the time limit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import websockets  # noqa: E402

from connectors import keys  # noqa: E402
from connectors.events import Event  # noqa: E402
from bench.bot_loop import percentiles  # noqa: E402  (same p50/p99 definition in every report)
from devstack import free_port, start_mongo, start_redis, wait_for_port  # noqa: E402

ADMIN = ("admin@bench.local", "bench-admin-password")
TEXT = "Do you have the Trail Runner in size 9? I need it by Friday."


def start_handoff(port: int, redis_url: str, mongo_url: str, log: Any) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HANDOFF_PORT=str(port),
               HANDOFF_SECRET_KEY="bench-secret-key-0123456789", REDIS_URL=redis_url,
               MONGODB_URL=mongo_url, MONGODB_DB="bench", GRAPH_BASE_URL="http://127.0.0.1:9",
               HANDOFF_BOT_RESUME="off", HANDOFF_QUEUE_TIMEOUT_MINUTES="0",
               HANDOFF_AUTO_ASSIGN="off", HANDOFF_ADMIN_EMAIL=ADMIN[0],
               HANDOFF_ADMIN_PASSWORD=ADMIN[1], HANDOFF_ARGON2_MEMORY_KIB="1024",
               HANDOFF_ARGON2_TIME_COST="1", HANDOFF_LOG_LEVEL="WARNING",
               HANDOFF_CONSUMER_NAME="bench")
    process = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=str(ROOT), env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port("127.0.0.1", port, timeout=60, process=process)
    return process


async def login(base: str, email: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    response = await client.post("/api/login", json={"email": email, "password": password})
    response.raise_for_status()
    client.headers["X-CSRF-Token"] = response.json()["csrf"]
    return client


async def setup(base: str, n_agents: int, n_chats: int) -> Tuple[List[str], Dict[str, str]]:
    """Agents and their sessions; `n_chats` tickets assigned round robin. Returns
    (session cookies per agent, agent per customer wa_id)."""
    admin = await login(base, *ADMIN)
    agents = [f"agent{i:02d}" for i in range(n_agents)]
    for agent in agents:
        created = await admin.post("/api/agents", json={
            "id": agent, "email": f"{agent}@bench.local", "password": f"{agent}-password",
            "capacity": n_chats})
        created.raise_for_status()
    owners: Dict[str, str] = {}
    gate = asyncio.Semaphore(8)

    async def open_chat(i: int) -> None:
        wa_id, agent = f"9198200{i:05d}", agents[i % n_agents]
        async with gate:
            opened = await admin.post("/api/tickets", json={"wa_id": wa_id, "name": f"C{i}"})
            opened.raise_for_status()
            assigned = await admin.post(f"/api/tickets/{opened.json()['ticket']['id']}/assign",
                                        json={"agent": agent})
            assigned.raise_for_status()
        owners[wa_id] = agent

    await asyncio.gather(*(open_chat(i) for i in range(n_chats)))
    await admin.aclose()
    cookies = []
    for agent in agents:
        client = await login(base, f"{agent}@bench.local", f"{agent}-password")
        cookies.append(client.cookies["parley_session"])
        await client.aclose()
    return cookies, owners


async def paced(count: int, rate: float, deadline: float, send: Any) -> int:
    """Call `send(i)` open loop at `rate` per second; returns how many were sent."""
    started = time.perf_counter()
    for i in range(count):
        if time.monotonic() > deadline:
            return i
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(i)
    return count


async def live_view(base: str, redis_url: str, args: argparse.Namespace,
                    deadline: float) -> Dict[str, Any]:
    cookies, owners = await setup(base, args.agents, args.chats)
    chats = sorted(owners)
    redis = aioredis.from_url(redis_url)
    sent_at: Dict[str, float] = {}
    latencies: List[float] = []
    wrong: List[str] = []
    done = asyncio.Event()
    ws_url = base.replace("http", "ws") + "/api/live"

    async def reader(agent: str, socket: Any) -> None:
        async for raw in socket:
            frame = json.loads(raw)
            if frame.get("type") != "message" or frame["data"].get("kind") != "line":
                continue
            line = frame["data"]["line"]
            if line["id"] not in sent_at:
                continue
            latencies.append(time.perf_counter() - sent_at[line["id"]])
            if owners.get(line["wa_id"]) != agent:
                wrong.append(line["id"])
            if len(latencies) >= len(sent_at) and sending_over.is_set():
                done.set()

    sending_over = asyncio.Event()
    sockets = [await websockets.connect(ws_url, additional_headers={
        "Cookie": f"parley_session={c}", "Origin": base}, max_queue=None) for c in cookies]
    for socket in sockets:
        assert json.loads(await socket.recv())["type"] == "hello"
    readers = [asyncio.create_task(reader(f"agent{i:02d}", s)) for i, s in enumerate(sockets)]

    async def send(i: int) -> None:
        wa_id, wamid = chats[i % len(chats)], f"wamid.bench.{i}"
        event = Event("message.received", wamid, {
            "wamid": wamid, "wa_id": wa_id, "name": "Bench", "phone_number_id": "100000000000001",
            "type": "text", "text": TEXT, "timestamp": str(int(time.time()))})
        fields = event.to_fields()
        sent_at[wamid] = time.perf_counter()
        await redis.xadd(keys.HANDOFF_INBOX_STREAM, fields)

    # Warm-up (not counted): connections, code paths.
    for i in range(20):
        await send(10_000_000 + i)
    await asyncio.sleep(1.0)
    sent_at.clear()
    latencies.clear()
    sent = await paced(args.count, args.rate, deadline, send)
    sending_over.set()
    if len(latencies) >= len(sent_at):
        done.set()
    try:
        await asyncio.wait_for(done.wait(), 10)
    except asyncio.TimeoutError:
        pass
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for socket in sockets:
        await socket.close()
    await redis.aclose()
    return {"sent": sent, "shown": len(latencies), "wrong_agent": len(wrong),
            "websockets": len(sockets), "open_chats": len(owners),
            **percentiles(latencies)}


async def redis_baseline(redis_url: str, args: argparse.Namespace, deadline: float) -> Dict[str, Any]:
    """XADD -> blocked XREAD round trip on a scratch stream, same rate and entry size."""
    writer, reader_client = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    stream = "bench:baseline"
    sent_at: Dict[str, float] = {}
    latencies: List[float] = []
    payload = Event("message.received", "x", {"text": TEXT, "pad": "x" * 200}).to_fields()

    async def follow() -> None:
        position = "$"
        while True:
            reply = await reader_client.xread({stream: position}, block=1000, count=100)
            for _, items in reply or []:
                for entry_id, fields in items:
                    position = entry_id
                    key = fields[b"id"].decode()
                    if key in sent_at:
                        latencies.append(time.perf_counter() - sent_at[key])

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.2)

    async def send(i: int) -> None:
        key = f"b{i}"
        sent_at[key] = time.perf_counter()
        await writer.xadd(stream, {**payload, "id": key})

    sent = await paced(args.count, args.rate, deadline, send)
    for _ in range(50):
        if len(latencies) >= sent:
            break
        await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.aclose()
    await reader_client.aclose()
    return {"sent": sent, "shown": len(latencies), **percentiles(latencies)}


async def main(args: argparse.Namespace) -> Dict[str, Any]:
    deadline = time.monotonic() + args.time_limit
    load_before = [round(x, 2) for x in os.getloadavg()]
    redis_port, mongo_port, port = free_port(), free_port(), free_port()
    redis_url, mongo_url = f"redis://127.0.0.1:{redis_port}/0", f"mongodb://127.0.0.1:{mongo_port}/"
    processes = [start_redis(redis_port), start_mongo(mongo_port)]
    wait_for_port("127.0.0.1", mongo_port, timeout=30, process=processes[1])
    log = tempfile.NamedTemporaryFile(prefix="handoff-bench-", suffix=".log", delete=False)
    try:
        processes.append(start_handoff(port, redis_url, mongo_url, log))
        live = await live_view(f"http://127.0.0.1:{port}", redis_url, args, deadline)
        print(f"live view: {live}", file=sys.stderr)
        baseline = await redis_baseline(redis_url, args, deadline)
        print(f"redis baseline: {baseline}", file=sys.stderr)
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=20)
        log.close()
    return {
        "command": "python bench/handoff_live.py " + " ".join(sys.argv[1:]),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_before": load_before,
        "entry": "parley:handoff:inbox (as the connector's router appends it)",
        "chats": args.chats, "agents": args.agents, "count": args.count, "rate": args.rate,
        "goal_p99_ms": 200, "live_view": live, "redis_xadd_xread": baseline,
        "cut_by_time_limit": time.monotonic() > deadline, "handoff_log": log.name,
    }


def table(result: Dict[str, Any]) -> str:
    rows = [("customer message -> agent websocket", result["live_view"]),
            ("raw Redis XADD -> XREAD", result["redis_xadd_xread"])]
    lines = ["| path | shown / sent | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['shown']} / {r['sent']} | {r.get('p50_ms')} | "
                     f"{r.get('p99_ms')} | {r.get('max_ms')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--time-limit", type=float, default=120.0)
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    out = ROOT / "bench" / "results" / "handoff_live.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    live_ok = result["live_view"]["shown"] == result["live_view"]["sent"] and \
        not result["live_view"]["wrong_agent"]
    sys.exit(0 if live_ok and not result["cut_by_time_limit"] else 1)

"""Broadcast campaign benchmark: snapshot, send rate of one worker vs a raw client, pacing, status
processing and memory.

    python bench/broadcast_campaign.py [--n 100000] [--time-limit 60] [--pace-seconds 10]

Starts a private redis-server, SecantusDB (in memory) and a sandbox (throughput and pair limits
off, no webhooks). Seeds N opted-in contacts (bulk insert), snapshots an N-recipient campaign
(``service.start``), then lets ONE in-process worker send through the real Sender (bucket off)
until the campaign completes or ``--time-limit``; the same template bodies are then posted with
raw aiohttp at the same concurrency for comparison. Pacing: a second campaign at rate 80 (the
Sender's bucket also at 80/s) runs for ``--pace-seconds``. Status processing: ``sent``,
``delivered`` and ``read`` events for the sent records are applied through ``Tracker.on_status``.
Writes bench/results/broadcast_campaign.json. Note: every send does ~4 single-document MongoDB
writes; through SecantusDB (~2,500 updates/s) that, not Parley, bounds the numbers.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from broadcasts.campaigns.worker import Worker  # noqa: E402
from broadcasts.context import Context  # noqa: E402
from broadcasts.settings import Settings  # noqa: E402
from broadcasts.templates import build_payload  # noqa: E402
from connectors import events  # noqa: E402
from connectors.sender import Purpose  # noqa: E402
from devstack import free_port, start_mongo, start_redis, wait_for_port  # noqa: E402

SALE_VARS = {"first_name": {"attr": "first_name", "default": "there"}, "discount": {"value": "20%"}}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wa(i: int) -> str:
    return f"9198700{i:05d}"


async def seed(ctx: Context, n: int) -> float:
    start = time.perf_counter()
    now = time.time()
    from datetime import datetime, timezone
    at = datetime.fromtimestamp(now, timezone.utc)
    for lo in range(0, n, 10_000):
        docs = [{"_id": wa(i), "phone": "+" + wa(i), "attrs": {"first_name": f"F{i}"}, "tags": [],
                 "consent": {"marketing": {"state": "opted_in", "at": at, "source": "import"}}}
                for i in range(lo, min(n, lo + 10_000))]
        await ctx.contacts.col.insert_many(docs, ordered=False)
    return time.perf_counter() - start


async def run_campaign(ctx: Context, template_id: str, rate: float, limit: float, concurrency: int) -> Dict[str, Any]:
    campaign = await ctx.service.create({"template_id": template_id, "variables": SALE_VARS, "rate": rate,
                                         "segment": {"filter": {}}})
    started = time.perf_counter()
    await ctx.service.start(campaign["_id"])
    snapshot_s = time.perf_counter() - started
    log(f"snapshot {snapshot_s:.1f} s")
    worker = Worker(ctx, "bench", concurrency, Purpose.CAMPAIGN)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    t0 = time.perf_counter()
    audience = (await ctx.campaigns.get(campaign["_id"]))["stats"]["audience"]
    while time.perf_counter() - t0 < limit and worker.sent < audience:
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - t0
    sent = worker.sent
    stop.set()
    if sent < audience:
        await ctx.service.cancel(campaign["_id"])
    try:
        await asyncio.wait_for(task, 15)
    except asyncio.TimeoutError:
        log("worker did not stop within 15 s (in-flight sends still waiting)")
    return {"campaign_id": campaign["_id"], "audience": audience, "snapshot_s": round(snapshot_s, 2),
            "sent": sent, "seconds": round(elapsed, 2), "msgs_per_s": round(sent / elapsed, 1)}


async def raw_baseline(graph_url: str, template: Dict[str, Any], count: int, concurrency: int,
                       limit: float) -> Dict[str, Any]:
    url = f"{graph_url}/100000000000001/messages"
    headers = {"Authorization": "Bearer sandbox-token"}
    payload = build_payload(template, {"first_name": "F", "discount": "20%"})
    indexes = iter(range(count))
    done = 0
    deadline = time.perf_counter() + limit
    async with aiohttp.ClientSession() as session:
        async def loop() -> None:
            nonlocal done
            for i in indexes:
                if time.perf_counter() > deadline:
                    return
                async with session.post(url, json={**payload, "to": "+1777" + f"{i:07d}"}, headers=headers) as r:
                    await r.read()
                    done += r.status == 200
        t0 = time.perf_counter()
        await asyncio.gather(*[loop() for _ in range(concurrency)])
        elapsed = time.perf_counter() - t0
    return {"sent": done, "seconds": round(elapsed, 2), "msgs_per_s": round(done / elapsed, 1)}


async def status_processing(ctx: Context, campaign_id: str, limit: int) -> Dict[str, Any]:
    records = [d async for d in ctx.recipients.col.find({"campaign_id": campaign_id, "state": "accepted"},
                                                         {"wamid": 1}).limit(limit)]
    t0 = time.perf_counter()
    applied = 0
    for kind in (events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ):
        for r in records:
            data = {"wamid": r["wamid"], "biz_opaque_callback_data": r["_id"], "timestamp": str(int(time.time()))}
            applied += await ctx.tracker.on_status(kind, data)
    elapsed = time.perf_counter() - t0
    n = 3 * len(records)
    return {"events": n, "applied": applied, "seconds": round(elapsed, 2), "events_per_s": round(n / elapsed, 1)}


async def main(args: argparse.Namespace) -> Dict[str, Any]:
    rport, mport, sport = free_port(), free_port(), free_port()
    redis_proc, mongo_proc = start_redis(rport), start_mongo(mport)
    env = dict(os.environ, SANDBOX_PORT=str(sport), SANDBOX_THROUGHPUT_MPS="0", SANDBOX_PAIR_RATE="false",
               SANDBOX_LOG_LEVEL="WARNING")
    sandbox = subprocess.Popen([sys.executable, "-m", "sandbox"], cwd=ROOT, env=env)
    try:
        for port in (rport, mport, sport):
            wait_for_port("127.0.0.1", port, 30)
        graph = f"http://127.0.0.1:{sport}/v23.0"
        settings = Settings(redis_url=f"redis://127.0.0.1:{rport}/0", mongo_url=f"mongodb://127.0.0.1:{mport}/",
                            mongo_db="bench", graph_url=graph, access_token="sandbox-token",
                            phone_number_id="100000000000001", waba_id="200000000000001", sender_mps=0,
                            frequency_cap=0)
        ctx = await Context.open(settings)
        await ctx.ensure_indexes()
        await ctx.templates.sync()
        template = next(t for t in await ctx.templates.list() if t["name"] == "spring_sale")
        log("seeding")
        result: Dict[str, Any] = {"n": args.n, "seed_s": round(await seed(ctx, args.n), 2)}
        await ctx.close()
        log(f"seeded in {result['seed_s']} s; pacing at 80/s")
        ctx = await Context.open(Settings(**{**settings.__dict__, "sender_mps": 80.0}))
        result["pacing_80"] = await run_campaign(ctx, template["_id"], 80, args.pace_seconds, args.concurrency)
        await ctx.close()
        log(f"pacing {result['pacing_80']}; one worker, unpaced")
        ctx = await Context.open(settings)
        result["campaign"] = await run_campaign(ctx, template["_id"], 0, args.time_limit, args.concurrency)
        log(f"campaign {result['campaign']}; raw client")
        result["raw_aiohttp"] = await raw_baseline(graph, template, result["campaign"]["sent"] or 1000,
                                                   args.concurrency, args.time_limit)
        log("status processing")
        result["status_processing"] = await status_processing(ctx, result["campaign"]["campaign_id"], 3000)
        result["rss_mb"] = round(psutil.Process().memory_info().rss / 2 ** 20, 1)
        await ctx.close()
        return result
    finally:
        for proc in (sandbox, redis_proc, mongo_proc):
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--pace-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    out = asyncio.run(main(parser.parse_args()))
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "broadcast_campaign.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))

"""Broadcast campaign benchmark: one worker's send rate beside the raw clients, pacing, a live
chat beside a campaign, status processing and memory.

    python bench/broadcast_campaign.py [--n 100000] [--time-limit 120] [--pace-seconds 30]

Starts a private redis-server, SecantusDB (the MongoDB-compatible test server; with
``MONGODB_URL`` set, a fresh database on that server instead, dropped at the end) and a sandbox
(throughput and pair limits off, no webhooks), seeds N opted-in contacts and measures, in one run:

1. Baselines: raw aiohttp posting the same template bodies at the same concurrency (the fastest
   raw client here; bench/sender.py compares it with httpx), measured before and after the
   worker (the better one counts); and the raw store: single-document updates by ``_id`` per
   second through motor, the operation a send costs (2 per message, see below).
2. One worker process (in-process ``Worker``, the real Sender with its bucket off) on an
   N-recipient campaign, unpaced, until it completes or ``--time-limit``: messages/s, beside raw
   HTTP and beside the store's ceiling (update rate / 2).
3. Pacing: a campaign at rate 80 with the Sender's number bucket at 100/s: measured rate after a
   2 s warm-up over ``--pace-seconds``; at the same time a "live chat" sends one conversation
   reply (purpose CONVERSATION, window open, 200 customers in turn) every 250 ms from another
   process (as the bot's replies leave from the Rasa process) through the same number's bucket:
   its send latency beside the same chat measured idle just before.
4. Status processing: 3 status events (sent, delivered, read) per sent record, written to the
   events stream, consumed by the real ``EventConsumer`` (batched roll-up) for up to
   ``--status-seconds``: events/s beside 3x the worker's send rate.
5. Peak RSS of this process while the worker runs.

Per sent message the worker writes 2 single documents (the claim; the acceptance, which also
counts funnel level ``sent``) plus, per batch, one indexed read of the claimed records, one read
of their consent and one counter update; through SecantusDB (a few hundred
updates/s on this machine) that, not Parley, bounds the absolute numbers. Writes
bench/results/broadcast_campaign.json (``mongodb`` says which server) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from bench.mongo import BenchMongo  # noqa: E402
from broadcasts import keys as bc_keys  # noqa: E402
from broadcasts.campaigns.worker import Worker  # noqa: E402
from broadcasts.consumer import EventConsumer  # noqa: E402
from broadcasts.context import Context  # noqa: E402
from broadcasts.settings import Settings  # noqa: E402
from broadcasts.templates import build_payload  # noqa: E402
from connectors import events, keys as shared_keys, payloads  # noqa: E402
from connectors.events import Event  # noqa: E402
from connectors.sender import Purpose  # noqa: E402
from connectors.window import refresh_window  # noqa: E402
from devstack import free_port, start_redis, wait_for_port  # noqa: E402

SALE_VARS = {"first_name": {"attr": "first_name", "default": "there"}, "discount": {"value": "20%"}}
PHONE_NUMBER_ID = "100000000000001"
#: The number's throughput during the pacing run: above the campaign's 80/s, so the campaign's
#: own pacing is what is measured, while the chat and the campaign share the number's bucket.
NUMBER_MPS = 100.0
#: Contacts (tagged ``pace``) in the paced campaign: more than 80/s x --pace-seconds needs.
PACED_AUDIENCE = 5000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wa(i: int) -> str:
    return f"9198700{i:05d}"


def pct(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def seed(ctx: Context, n: int) -> float:
    start, at = time.perf_counter(), datetime.now(timezone.utc)
    for lo in range(0, n, 10_000):
        docs = [{"_id": wa(i), "phone": "+" + wa(i), "attrs": {"first_name": f"F{i}"},
                 "tags": ["pace"] if i < PACED_AUDIENCE else [],
                 "consent": {"marketing": {"state": "opted_in", "at": at, "source": "import"}}}
                for i in range(lo, min(n, lo + 10_000))]
        await ctx.contacts.col.insert_many(docs, ordered=False)
    return time.perf_counter() - start


async def store_baseline(ctx: Context, seconds: float, concurrency: int = 8) -> Dict[str, Any]:
    """Single-document updates by _id per second, the unit a send costs."""
    col = ctx.db["bench_store"]
    await col.insert_many([{"_id": i, "n": 0} for i in range(10_000)])
    done, deadline = 0, time.perf_counter() + seconds

    async def loop(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            await col.update_one({"_id": i % 10_000, "n": {"$gte": 0}}, {"$inc": {"n": 1}})
            done, i = done + 1, i + concurrency

    t0 = time.perf_counter()
    await asyncio.gather(*[loop(k) for k in range(concurrency)])
    return {"updates": done, "updates_per_s": round(done / (time.perf_counter() - t0), 1)}


async def raw_http(graph_url: str, template: Dict[str, Any], seconds: float, concurrency: int) -> Dict[str, Any]:
    url, headers = f"{graph_url}/{PHONE_NUMBER_ID}/messages", {"Authorization": "Bearer sandbox-token"}
    payload = build_payload(template, {"first_name": "F", "discount": "20%"})
    done, counter, deadline = 0, iter(range(10 ** 9)), time.perf_counter() + seconds
    async with aiohttp.ClientSession() as session:
        async def loop() -> None:
            nonlocal done
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                async with session.post(url, json={**payload, "to": f"+1777{i:07d}"}, headers=headers) as r:
                    await r.read()
                    done += r.status == 200
        t0 = time.perf_counter()
        await asyncio.gather(*[loop() for _ in range(concurrency)])
        return {"sent": done, "msgs_per_s": round(done / (time.perf_counter() - t0), 1)}


async def chat(redis_url: str, graph: str, seconds: float, every: float = 0.25, customers: int = 200) -> Dict[str, Any]:
    """Customers with an open window getting a conversation reply every ``every`` seconds, in turn
    (each one rarely, so the per-recipient pair limit never applies), through a Sender of this
    process on the same number bucket (as the bot's replies leave from the Rasa process)."""
    import redis.asyncio as aioredis
    from connectors.client import GraphClient
    from connectors.ratelimit import RateLimits
    from connectors.sender import Sender
    redis = aioredis.from_url(redis_url)
    sender = Sender(GraphClient.from_credentials("sandbox-token", PHONE_NUMBER_ID, base_url=graph, version=""),
                    redis, limits=RateLimits(mps=NUMBER_MPS))
    wa_ids = [f"91999990{i:04d}" for i in range(customers)]
    for wa_id in wa_ids:
        await refresh_window(redis, PHONE_NUMBER_ID, wa_id, time.time())
    latencies: List[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        await sender.send("+" + wa_ids[len(latencies) % customers], payloads.text("Your order ships today"),
                          purpose=Purpose.CONVERSATION, category="service", by="bench-chat")
        latencies.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(max(0.0, every - (time.perf_counter() - t0)))
    await sender.aclose()
    return {"replies": len(latencies), "p50_ms": round(pct(latencies, 0.5), 2),
            "p99_ms": round(pct(latencies, 0.99), 2), "mean_ms": round(statistics.fmean(latencies), 2)}


async def chat_process(settings: Settings, seconds: float) -> Dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--chat", str(seconds), "--redis-url", settings.redis_url, "--graph", settings.graph_url,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


async def start_campaign(ctx: Context, template_id: str, rate: float, segment: Any = None) -> Dict[str, Any]:
    campaign = await ctx.service.create({"template_id": template_id, "variables": SALE_VARS, "rate": rate,
                                         "segment": {"filter": segment or {}}})
    t0 = time.perf_counter()
    await ctx.service.start(campaign["_id"])
    log(f"snapshot of campaign {campaign['_id']} took {time.perf_counter() - t0:.1f} s")
    return {"campaign_id": campaign["_id"], "snapshot_s": round(time.perf_counter() - t0, 2),
            "audience": (await ctx.campaigns.get(campaign["_id"]))["stats"]["audience"]}


async def unpaced(ctx: Context, template_id: str, limit: float, concurrency: int) -> Dict[str, Any]:
    result = await start_campaign(ctx, template_id, 0)
    worker, stop = Worker(ctx, "bench", concurrency, Purpose.CAMPAIGN), asyncio.Event()
    process, peak = psutil.Process(), 0
    rss_start = process.memory_info().rss
    task = asyncio.create_task(worker.run(stop))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit and worker.sent < result["audience"]:
        await asyncio.sleep(0.5)
        peak = max(peak, process.memory_info().rss)
    elapsed, sent = time.perf_counter() - t0, worker.sent
    stop.set()
    await asyncio.wait_for(task, 120)  # the writer flushes what it holds
    written = await ctx.recipients.col.count_documents({"campaign_id": result["campaign_id"],
                                                        "state": {"$in": ["accepted", "sent"]}})
    if sent < result["audience"]:
        await ctx.service.cancel(result["campaign_id"])
    return {**result, "sent": sent, "seconds": round(elapsed, 2), "msgs_per_s": round(sent / elapsed, 1),
            "records_written": written, "rss_start_mb": round(rss_start / 2 ** 20, 1),
            "rss_peak_mb": round(peak / 2 ** 20, 1)}


async def paced(ctx: Context, template_id: str, seconds: float, concurrency: int) -> Dict[str, Any]:
    idle = await chat_process(ctx.settings, 10)
    result = await start_campaign(ctx, template_id, 80, {"tags": "any", "values": ["pace"]})
    worker, stop = Worker(ctx, "bench-paced", concurrency, Purpose.CAMPAIGN), asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(2)  # warm-up: first batch claimed, bucket settled
    s0, t0 = worker.sent, time.perf_counter()
    during = await chat_process(ctx.settings, seconds)
    s1, t1 = worker.sent, time.perf_counter()
    stop.set()
    await ctx.service.cancel(result["campaign_id"])
    await asyncio.wait_for(task, 60)
    rate = (s1 - s0) / (t1 - t0)
    return {**result, "target": 80, "measured_msgs_per_s": round(rate, 2),
            "error_pct": round((rate - 80) / 80 * 100, 2), "chat_idle": idle, "chat_during": during,
            "chat_p50_ratio": round(during["p50_ms"] / idle["p50_ms"], 2) if idle["p50_ms"] else None,
            "chat_p99_ratio": round(during["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None}


class CountingConsumer(EventConsumer):
    """The real consumer, counting the entries it has handled and acknowledged."""

    processed = 0

    async def process(self, items: List[Any]) -> None:
        await super().process(items)
        self.processed += len(items)


async def status_processing(ctx: Context, campaign_id: str, seconds: float) -> Dict[str, Any]:
    """Sent/delivered/read for every accepted record, through the real consumer (batched)."""
    consumer = CountingConsumer(ctx, "bench-consumer")
    await consumer.ensure_group()
    await ctx.redis.xgroup_setid(shared_keys.EVENTS_STREAM, bc_keys.EVENTS_GROUP, "$")  # only ours below
    rids = [d["_id"] async for d in ctx.recipients.col.find({"campaign_id": campaign_id, "state": "accepted"},
                                                             {"_id": 1})]
    stamp = str(int(time.time()))
    pipe, n = ctx.redis.pipeline(transaction=False), 0
    for kind in (events.MESSAGE_SENT, events.MESSAGE_DELIVERED, events.MESSAGE_READ):
        for rid in rids:
            data = {"biz_opaque_callback_data": rid, "wa_id": rid.rsplit(":", 1)[1], "timestamp": stamp}
            pipe.xadd(shared_keys.EVENTS_STREAM, Event(kind, f"{rid}:{kind}", data).to_fields())
            n += 1
            if n % 2000 == 0:
                await pipe.execute()
    await pipe.execute()
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and consumer.processed < n:
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - t0
    processed = consumer.processed
    stop.set()
    await asyncio.wait_for(task, 60)
    counts = (await ctx.campaigns.get(campaign_id)).get("stats", {})
    return {"events": n, "processed": processed, "seconds": round(elapsed, 2),
            "events_per_s": round(processed / elapsed, 1),
            "counters": {k: counts.get(k, 0) for k in ("sent", "delivered", "read")}}


async def main(args: argparse.Namespace) -> Dict[str, Any]:
    rport, sport = free_port(), free_port()
    redis_proc, mongo = start_redis(rport), BenchMongo.from_env("broadcast_campaign", "bench")
    env = dict(os.environ, SANDBOX_PORT=str(sport), SANDBOX_THROUGHPUT_MPS="0", SANDBOX_PAIR_RATE="false",
               SANDBOX_LOG_LEVEL="WARNING")
    sandbox = subprocess.Popen([sys.executable, "-m", "sandbox"], cwd=ROOT, env=env)
    try:
        wait_for_port("127.0.0.1", sport, 30)
        graph = f"http://127.0.0.1:{sport}/v23.0"
        log(f"MongoDB: {mongo.label}")
        settings = Settings(redis_url=f"redis://127.0.0.1:{rport}/0", mongo_url=mongo.url,
                            mongo_db=mongo.db, graph_url=graph, access_token="sandbox-token",
                            phone_number_id=PHONE_NUMBER_ID, waba_id="200000000000001", sender_mps=0,
                            frequency_cap=0)
        ctx = await Context.open(settings)
        await ctx.ensure_indexes()
        await ctx.templates.sync()
        template = next(t for t in await ctx.templates.list() if t["name"] == "spring_sale")
        result: Dict[str, Any] = {"n": args.n, "concurrency": args.concurrency, "mongodb": mongo.label}
        result["store"] = await store_baseline(ctx, 10)
        log(f"store {result['store']}; seeding")
        result["seed_s"] = round(await seed(ctx, args.n), 2)
        raw_before = await raw_http(graph, template, 10, args.concurrency)
        log(f"raw aiohttp {raw_before}; one worker, unpaced")
        result["campaign"] = await unpaced(ctx, template["_id"], args.time_limit, args.concurrency)
        log(f"campaign {result['campaign']}")
        raw_after = await raw_http(graph, template, 10, args.concurrency)
        result["raw_aiohttp"] = max(raw_before, raw_after, key=lambda r: r["msgs_per_s"])
        result["raw_aiohttp_runs"] = [raw_before["msgs_per_s"], raw_after["msgs_per_s"]]
        result["status_processing"] = await status_processing(ctx, result["campaign"]["campaign_id"],
                                                              args.status_seconds)
        log(f"status processing {result['status_processing']}")
        await ctx.close()
        ctx = await Context.open(Settings(**{**settings.__dict__, "sender_mps": NUMBER_MPS}))
        result["pacing_80"] = await paced(ctx, template["_id"], args.pace_seconds, args.concurrency)
        log(f"pacing {result['pacing_80']}")
        await ctx.close()
        return result
    finally:
        for proc in (sandbox, redis_proc):
            proc.terminate()
            proc.wait(timeout=15)
        mongo.close()


def table(r: Dict[str, Any]) -> str:
    c, raw, st, p = r["campaign"], r["raw_aiohttp"], r["status_processing"], r["pacing_80"]
    ceiling = r["store"]["updates_per_s"] / 2
    rows = [
        ("worker, unpaced (msg/s)", c["msgs_per_s"], f"raw aiohttp {raw['msgs_per_s']}",
         f"{c['msgs_per_s'] / raw['msgs_per_s']:.2f}"),
        ("worker vs store ceiling (msg/s)", c["msgs_per_s"], f"{r['store']['updates_per_s']} updates/s / 2 = "
         f"{ceiling:.0f}", f"{c['msgs_per_s'] / ceiling:.2f}"),
        ("pacing at 80/s (msg/s)", p["measured_msgs_per_s"], "80", f"{p['error_pct']:+.2f} %"),
        ("live chat p50 during campaign (ms)", p["chat_during"]["p50_ms"], f"idle {p['chat_idle']['p50_ms']}",
         f"{p['chat_p50_ratio']}"),
        ("live chat p99 during campaign (ms)", p["chat_during"]["p99_ms"], f"idle {p['chat_idle']['p99_ms']}",
         f"{p['chat_p99_ratio']}"),
        ("status events (events/s)", st["events_per_s"], f"3x send rate {3 * c['msgs_per_s']:.0f}",
         f"{st['events_per_s'] / (3 * c['msgs_per_s']):.2f}"),
        ("worker peak RSS (MB)", c["rss_peak_mb"], "goal 300", f"{c['rss_peak_mb'] / 300:.2f}"),
    ]
    out = ["| figure | measured | baseline | ratio |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c_} | {d} |" for a, b, c_, d in rows]
    return "\n".join(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds for the unpaced campaign")
    parser.add_argument("--pace-seconds", type=float, default=30.0)
    parser.add_argument("--status-seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--chat", type=float, help=argparse.SUPPRESS)  # the chat child process
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--graph", help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.chat:
        print(json.dumps(asyncio.run(chat(cli.redis_url, cli.graph, cli.chat))))
        sys.exit(0)
    out = asyncio.run(main(cli))
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "broadcast_campaign.json").write_text(json.dumps(out, indent=2))
    print(table(out))

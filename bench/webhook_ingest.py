"""Webhook ingest benchmark: the connector's POST route beside a bare Sanic endpoint.

    .envs/services/bin/python bench/webhook_ingest.py --server-python .envs/bot/bin/python \
        [--concurrency 64] [--requests 20000] [--seconds 20] [--rate 1000] [--rate-seconds 10]

Starts a private redis-server and one server process (``--server-python``: the bot env, Python
3.10, Sanic 21.12, one worker, access log off) serving both ``POST /bare`` (answers 200, nothing else) and the real
``connectors.rasa_channel.WhatsAppInput`` blueprint at ``/webhooks/whatsapp/webhook``
(signature check + group-commit XADD, 200 after the entry is stored; its consumer never starts
because the server has no Rasa agent). The same aiohttp client then drives each endpoint with a
fixed concurrency (bounded by count and time; the client runs on uvloop when available, in
whichever env runs this script: the services env's aiohttp is the faster generator), and finally the webhook at a fixed rate
(open loop: latency counted from each request's scheduled time). Reports req/s, p50/p99, the
server's CPU time per request (from /proc, robust on a shared machine) and the ratios.
Results: ``bench/results/webhook_ingest.json``. Fails (exit 1) if any webhook answer is not a
200 or the stream does not hold exactly the acknowledged bodies.
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
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret"


def serve(port: int, redis_url: str) -> None:
    """The server process: bare route + the real channel blueprint."""
    from sanic import Sanic, response

    from connectors.rasa_channel import WhatsAppInput

    app = Sanic("webhook_ingest_bench")
    app.ctx.agent = None  # no Rasa: the consumer waits for an agent that never comes

    @app.post("/bare")
    async def bare(_: Any) -> Any:
        return response.text("")

    channel = WhatsAppInput.from_credentials({
        "verify_token": "v", "app_secret": SECRET, "access_token": "t", "phone_number_id": "100000000000001",
        "redis_url": redis_url, "graph_base_url": "http://127.0.0.1:9"})

    async def never(_: Any) -> None:
        raise AssertionError("no bot in the ingest benchmark")

    app.blueprint(channel.blueprint(never), url_prefix="/webhooks/whatsapp")
    app.run(host="127.0.0.1", port=port, workers=1, access_log=False, debug=False)


def body() -> bytes:
    """A realistic text-message webhook (~1 KB, compact JSON as Meta sends it)."""
    wa_id = "919800000001"
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"},
            "contacts": [{"profile": {"name": "Asha Rao"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": "wamid.HBgMOTE5ODAwMDAwMDAxFQIAEhgUM0E5QjA0RkU5OEFGMjM0QTc4QzYA",
                          "timestamp": "1763769600", "type": "text",
                          "text": {"body": "Hi! Where is my order PS-10023? It was due yesterday. " * 8}}],
        }}]}]}
    return json.dumps(doc, separators=(",", ":")).encode()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closed_loop(url: str, payload: bytes, headers: Dict[str, str], concurrency: int, requests: int,
                      seconds: float, pid: int) -> Dict[str, Any]:
    import aiohttp

    latencies: List[float] = []
    statuses: Dict[int, int] = {}
    deadline = time.monotonic() + seconds
    remaining = [requests]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            while remaining[0] > 0 and time.monotonic() < deadline:
                remaining[0] -= 1
                start = time.perf_counter()
                async with session.post(url, data=payload, headers=headers) as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - start)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return _summary(latencies, elapsed, cpu, statuses)


async def open_loop(url: str, payload: bytes, headers: Dict[str, str], rate: float, seconds: float,
                    pid: int) -> Dict[str, Any]:
    import aiohttp

    latencies: List[float] = []
    statuses: Dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)) as session:
        async def one(scheduled: float) -> None:
            async with session.post(url, data=payload, headers=headers) as resp:
                await resp.read()
            latencies.append(time.perf_counter() - scheduled)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1

        tasks = []
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        for i in range(int(rate * seconds)):
            scheduled = t0 + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(scheduled)))
        await asyncio.gather(*tasks)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return _summary(latencies, elapsed, cpu, statuses)


def _summary(latencies: List[float], elapsed: float, cpu: float, statuses: Dict[int, int]) -> Dict[str, Any]:
    ordered = sorted(latencies)
    n = len(ordered)
    return {"requests": n, "seconds": round(elapsed, 2), "req_s": round(n / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(ordered[int(n * 0.99) - 1] * 1000, 2),
            "server_cpu_us_per_req": round(cpu / n * 1e6, 1), "statuses": statuses}


async def drive(args: argparse.Namespace, port: int, pid: int) -> Dict[str, Any]:
    from connectors.signature import sign

    payload = body()
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, payload)}
    base = f"http://127.0.0.1:{port}"
    results: Dict[str, Any] = {"body_bytes": len(payload), "concurrency": args.concurrency}
    for name, path in (("bare", "/bare"), ("webhook", "/webhooks/whatsapp/webhook")):
        await closed_loop(base + path, payload, signed, args.concurrency, 1000, 10, pid)  # warm-up
        results[name] = await closed_loop(base + path, payload, signed, args.concurrency, args.requests,
                                          args.seconds, pid)
    results["webhook_fixed_rate"] = await open_loop(base + "/webhooks/whatsapp/webhook", payload, signed,
                                                    args.rate, args.rate_seconds, pid)
    results["fixed_rate"] = args.rate
    results["ratio_req_s"] = round(results["webhook"]["req_s"] / results["bare"]["req_s"], 3)
    results["ratio_cpu"] = round(results["bare"]["server_cpu_us_per_req"]
                                 / results["webhook"]["server_cpu_us_per_req"], 3)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--rate-seconds", type=float, default=10)
    parser.add_argument("--server-python", default=sys.executable,
                        help="interpreter of the server process (the bot env: Sanic 21.12)")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port, args.redis_url)
        return 0

    from devstack import free_port, start_redis, wait_for_port

    redis_port, port = free_port(), free_port()
    redis_proc = start_redis(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    server = subprocess.Popen([args.server_python, __file__, "serve", "--port", str(port), "--redis-url", redis_url],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=60, process=server)
        try:
            import uvloop  # the client must not be the bottleneck

            uvloop.install()
        except ImportError:
            pass
        results = asyncio.run(drive(args, port, server.pid))
        results["server_python"] = subprocess.run([args.server_python, "-c", "import sys, sanic; print(sys.version.split()[0], sanic.__version__)"],
                                                  capture_output=True, text=True).stdout.strip()
        import redis

        stored = redis.Redis.from_url(redis_url).xlen("parley:inbound")
        acked = sum(r["statuses"].get(200, 0) for k, r in results.items()
                    if k.startswith("webhook") and isinstance(r, dict)) + 1000  # + warm-up
        results["stream_entries"], results["acknowledged"] = stored, acked
    finally:
        server.terminate()
        server.wait(timeout=10)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
    out = ROOT / "bench" / "results" / "webhook_ingest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    bad = [k for k, r in results.items() if k.startswith("webhook") and set(r["statuses"]) != {200}]
    return 1 if bad or stored != acked else 0


if __name__ == "__main__":
    sys.exit(main())

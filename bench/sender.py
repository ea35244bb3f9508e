"""How fast the one send path posts to the Cloud API sandbox, against raw HTTP clients.

    python bench/sender.py [--count 5000] [--concurrency 128] [--rounds 3] [--time-limit 20]

Starts a private redis-server and a sandbox (``python -m sandbox`` with throughput and pair
limits off, statuses deferred), then posts the same text bodies to distinct recipients at the
same concurrency with: raw aiohttp, raw httpx, ``GraphClient`` alone, and the full ``Sender``
(window check, pair pacer, a 100,000/s bucket, retries, one ``message.outbound`` event per
message) for conversational and campaign sends. Writes bench/results/sender.json and prints a
markdown table with each rate as a share of the fastest raw client. Every run is bounded by
``--count`` messages and ``--time-limit`` seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from connectors import payloads  # noqa: E402
from connectors.client import GraphClient  # noqa: E402
from connectors.errors import RetryPolicy  # noqa: E402
from connectors.ratelimit import RateLimits, RedisBatcher  # noqa: E402
from connectors.sender import Purpose, Sender  # noqa: E402
from connectors.window import refresh_window  # noqa: E402
from devstack import free_port, start_redis, wait_for_port  # noqa: E402
from devstack.stores import services_python  # noqa: E402

TOKEN = "sandbox-token"
PHONE_NUMBER_ID = "100000000000001"
Post = Callable[[int], Awaitable[Any]]


def recipient(i: int) -> str:
    return f"1666{i:07d}"


def body(i: int) -> Dict[str, Any]:
    return dict(payloads.text(f"Benchmark message {i}: your order has shipped."), to="+" + recipient(i))


async def drive(post: Post, count: int, concurrency: int, time_limit: float) -> Dict[str, float]:
    """``concurrency`` workers share the indexes 0..count-1; stop early at ``time_limit``."""
    next_index = iter(range(count))
    done = 0
    deadline = time.monotonic() + time_limit

    async def worker() -> None:
        nonlocal done
        for i in next_index:
            if time.monotonic() > deadline:
                return
            await post(i)
            done += 1

    start, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds, cpu = time.monotonic() - start, time.process_time() - cpu
    return {"count": done, "seconds": round(seconds, 3), "rate": round(done / seconds, 1),
            "client_cpu_us_per_msg": round(cpu / max(done, 1) * 1e6)}


class Bench:
    def __init__(self, sandbox_url: str, redis_url: str, args: argparse.Namespace) -> None:
        self.sandbox_url = sandbox_url
        self.graph_url = f"{sandbox_url}/v23.0"
        self.messages_url = f"{self.graph_url}/{PHONE_NUMBER_ID}/messages"
        self.redis_url = redis_url
        self.args = args
        self.headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        self.bodies = [json.dumps(body(i), separators=(",", ":")).encode() for i in range(args.count)]

    async def reset(self) -> None:
        request = urllib.request.Request(f"{self.sandbox_url}/_sandbox/reset", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        await asyncio.get_running_loop().run_in_executor(None, lambda: urllib.request.urlopen(request).read())

    async def run(self, post: Post) -> Dict[str, float]:
        await self.reset()
        return await drive(post, self.args.count, self.args.concurrency, self.args.time_limit)

    async def raw_aiohttp(self) -> Dict[str, float]:
        connector = aiohttp.TCPConnector(limit=self.args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def post(i: int) -> str:
                async with session.post(self.messages_url, data=self.bodies[i], headers=self.headers) as response:
                    answer = json.loads(await response.read())
                    if "messages" not in answer:
                        raise RuntimeError(f"sandbox answered {answer}")
                    return answer["messages"][0]["id"]
            return await self.run(post)

    async def raw_httpx(self) -> Dict[str, float]:
        limits = httpx.Limits(max_connections=self.args.concurrency, max_keepalive_connections=self.args.concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            async def post(i: int) -> str:
                response = await client.post(self.messages_url, content=self.bodies[i], headers=self.headers)
                return json.loads(response.content)["messages"][0]["id"]
            return await self.run(post)

    async def graph_client(self) -> Dict[str, float]:
        async with GraphClient.from_credentials(TOKEN, PHONE_NUMBER_ID, base_url=self.graph_url, version="",
                                                max_connections=self.args.concurrency) as graph:
            items = [body(i) for i in range(self.args.count)]
            return await self.run(lambda i: graph.send_message(items[i]))

    async def sender(self, purpose: Purpose) -> Dict[str, float]:
        redis = aioredis.from_url(self.redis_url)
        try:
            await redis.flushdb()
            batcher = RedisBatcher(redis)
            now = time.time()
            await asyncio.gather(*(refresh_window(batcher, PHONE_NUMBER_ID, recipient(i), now)
                                   for i in range(self.args.count)))
            async with GraphClient.from_credentials(TOKEN, PHONE_NUMBER_ID, base_url=self.graph_url, version="",
                                                    max_connections=self.args.concurrency) as graph:
                sender = Sender(graph, batcher, limits=RateLimits(mps=100_000), retry=RetryPolicy(max_attempts=3),
                                max_concurrency=self.args.concurrency + 32, reserved_slots=32)
                items = [payloads.text(f"Benchmark message {i}: your order has shipped.")
                         for i in range(self.args.count)]
                by = "campaign:bench" if purpose is Purpose.CAMPAIGN else "bot"
                result = await self.run(lambda i: sender.send(recipient(i), items[i], purpose=purpose, by=by))
            events = await redis.xlen("parley:events")
            assert events == result["count"], f"{events} events for {result['count']} messages"
            return result
        finally:
            await redis.connection_pool.disconnect()


def start_sandbox(port: int) -> subprocess.Popen:
    env = dict(os.environ, SANDBOX_PORT=str(port), SANDBOX_THROUGHPUT_MPS="0", SANDBOX_PAIR_RATE="false",
               SANDBOX_STATUS_DELAYS_MS="3600000,3600000,3600000", SANDBOX_LOG_LEVEL="WARNING",
               SANDBOX_HISTORY_LIMIT="100000")
    process = subprocess.Popen([services_python(), "-m", "sandbox"], cwd=str(ROOT), env=env,
                               start_new_session=True)
    wait_for_port("127.0.0.1", port, timeout=30, process=process)
    return process


async def main(args: argparse.Namespace) -> Dict[str, Any]:
    sandbox_port, redis_port = free_port(), free_port()
    redis_process = start_redis(redis_port)
    sandbox_process = start_sandbox(sandbox_port)
    try:
        bench = Bench(f"http://127.0.0.1:{sandbox_port}", f"redis://127.0.0.1:{redis_port}/0", args)
        cases: Dict[str, Callable[[], Awaitable[Dict[str, float]]]] = {
            "raw aiohttp": bench.raw_aiohttp,
            "GraphClient (aiohttp)": bench.graph_client,
            "Sender, conversation": lambda: bench.sender(Purpose.CONVERSATION),
            "Sender, campaign": lambda: bench.sender(Purpose.CAMPAIGN),
        }
        runs: List[Dict[str, Any]] = []
        await bench.raw_aiohttp()  # warm-up: connections, sandbox code paths
        for round_number in range(1, args.rounds + 1):
            for name, case in cases.items():
                runs.append(dict(name=name, round=round_number, **await case()))
                print(f"round {round_number}: {name}: {runs[-1]['rate']} msg/s, "
                      f"{runs[-1]['client_cpu_us_per_msg']} µs CPU/msg", file=sys.stderr)
        runs.append(dict(name="raw httpx", round=1, **await bench.raw_httpx()))
        print(f"raw httpx: {runs[-1]['rate']} msg/s", file=sys.stderr)
    finally:
        for process in (sandbox_process, redis_process):
            process.terminate()
            process.wait(timeout=10)
    names = list(dict.fromkeys(run["name"] for run in runs))
    median = {name: statistics.median(r["rate"] for r in runs if r["name"] == name) for name in names}
    cpu = {name: statistics.median(r["client_cpu_us_per_msg"] for r in runs if r["name"] == name) for name in names}
    fastest_raw = max(median["raw aiohttp"], median["raw httpx"])
    return {
        "command": "python bench/sender.py " + " ".join(sys.argv[1:]),
        "python": platform.python_version(), "aiohttp": aiohttp.__version__, "httpx": httpx.__version__,
        "redis_py": __import__("redis").__version__, "cpus": os.cpu_count(),
        "count": args.count, "concurrency": args.concurrency, "rounds": args.rounds,
        "median_rate": median, "client_cpu_us_per_msg": cpu, "share_of_fastest_raw": {n: round(r / fastest_raw, 3) for n, r in median.items()},
        "runs": runs,
    }


def table(result: Dict[str, Any]) -> str:
    lines = ["| client | msg/s (median) | share of fastest raw client | client CPU µs/msg |",
             "|---|---:|---:|---:|"]
    for name, rate in result["median_rate"].items():
        lines.append(f"| {name} | {rate:,.0f} | {result['share_of_fastest_raw'][name]:.0%} "
                     f"| {result['client_cpu_us_per_msg'][name]:,.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="messages per run")
    parser.add_argument("--concurrency", type=int, default=128, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the fast cases (median reported)")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per run at most")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "sender.json"))
    options = parser.parse_args()
    outcome = asyncio.run(main(options))
    Path(options.output).parent.mkdir(parents=True, exist_ok=True)
    Path(options.output).write_text(json.dumps(outcome, indent=2) + "\n")
    print(table(outcome))

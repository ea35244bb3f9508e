"""Benchmark: the sandbox's send endpoint beside a bare Sanic endpoint.

    python bench/sandbox_send.py [--concurrency 32] [--requests 20000] [--seconds 20]

Starts two subprocesses on 127.0.0.1 — ``python -m sandbox`` with its limits off
(throughput 0, pair rate off, no webhook URL) and a bare single-process Sanic app whose POST
handler answers 200 with a constant JSON body — and drives each with the same aiohttp client
at a fixed concurrency, for a bounded number of requests and time. Every sandbox answer must be
a 200 with a wamid, and the sandbox's outbox must hold exactly that many messages, so the run
cannot pass vacuously. Prints a markdown line and writes ``bench/results/sandbox_send.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sandbox_send.json"
TOKEN = "bench-token"
PHONE_ID = "100000000000001"
BARE_APP = """
import sys
from sanic import Sanic
from sanic.response import HTTPResponse
app = Sanic("bare_bench", configure_logging=False)
BODY = b'{"messaging_product":"whatsapp","contacts":[{"input":"+1","wa_id":"1"}],"messages":[{"id":"wamid.X"}]}'
@app.post("/<version>/<node>/messages")
async def send(request, version, node):
    return HTTPResponse(BODY, content_type="application/json")
@app.get("/health")
async def health(request):
    return HTTPResponse(b"ok")
app.run(host="127.0.0.1", port=int(sys.argv[1]), single_process=True, access_log=False, motd=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with opener.open(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def start_sandbox(port: int, log: Any) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SANDBOX_HOST="127.0.0.1", SANDBOX_PORT=str(port), SANDBOX_ACCESS_TOKEN=TOKEN,
               SANDBOX_THROUGHPUT_MPS="0", SANDBOX_PAIR_RATE="0",
               SANDBOX_HISTORY_LIMIT="1000000", SANDBOX_LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
    env.pop("SANDBOX_WEBHOOK_URL", None)  # no webhooks: measure the send path only
    return subprocess.Popen([sys.executable, "-m", "sandbox"], cwd=str(ROOT), env=env, stdout=log, stderr=log)


def start_bare(port: int, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)], cwd=str(ROOT), stdout=log, stderr=log)


def payload(index: int) -> bytes:
    return json.dumps({"messaging_product": "whatsapp", "recipient_type": "individual",
                       "to": f"+1666{index % 1000:07d}", "type": "text",
                       "text": {"body": f"Benchmark message {index}: your order is on its way."}}).encode()


async def drive(url: str, concurrency: int, total: int, seconds: float, check: bool) -> dict[str, Any]:
    """``concurrency`` workers share a counter of ``total`` requests; stop early after ``seconds``."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    failures: list[str] = []
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                async with session.post(url, data=payload(index), headers=headers) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {body[:200]!r}")
                elif check and not json.loads(body)["messages"][0]["id"].startswith("wamid."):
                    failures.append(f"no wamid: {body[:200]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count, "seconds": round(elapsed, 3), "rps": round(count / elapsed, 1),
        "p50_ms": round(latencies[count // 2] * 1000, 2) if count else None,
        "p99_ms": round(latencies[min(count - 1, int(count * 0.99))] * 1000, 2) if count else None,
        "failures": len(failures), "first_failure": failures[0] if failures else None,
    }


def outbox_size(base: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base}/_sandbox/outbox", timeout=60) as response:
        return len(json.load(response)["messages"])


def reset(base: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{base}/_sandbox/reset", data=b"{}", method="POST")
    with opener.open(request, timeout=10):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=int, default=1000)
    args = parser.parse_args()
    sandbox_port, bare_port = free_port(), free_port()
    sandbox_base, bare_base = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{bare_port}"
    with tempfile.TemporaryFile() as log:
        processes = [start_sandbox(sandbox_port, log), start_bare(bare_port, log)]
        try:
            wait_ready(f"{sandbox_base}/_sandbox/health", processes[0])
            wait_ready(f"{bare_base}/health", processes[1])
            targets = {"sandbox": f"{sandbox_base}/v23.0/{PHONE_ID}/messages",
                       "bare": f"{bare_base}/v23.0/{PHONE_ID}/messages"}
            results: dict[str, Any] = {}
            for name, url in targets.items():
                asyncio.run(drive(url, args.concurrency, args.warmup, args.seconds, check=False))
                if name == "sandbox":
                    reset(sandbox_base)
                results[name] = asyncio.run(drive(url, args.concurrency, args.requests, args.seconds, check=True))
            stored = outbox_size(sandbox_base)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
            log.seek(0)
            server_log = log.read().decode(errors="replace")
    sandbox, bare = results["sandbox"], results["bare"]
    problems = []
    for name, result in results.items():
        if result["failures"]:
            problems.append(f"{name}: {result['failures']} failures, first: {result['first_failure']}")
    if stored != sandbox["requests"]:
        problems.append(f"sandbox outbox holds {stored} messages, expected {sandbox['requests']}")
    ratio = round(sandbox["rps"] / bare["rps"], 3) if bare["rps"] else None
    report = {
        "benchmark": "sandbox_send", "concurrency": args.concurrency, "requests_cap": args.requests,
        "seconds_cap": args.seconds, "sandbox": sandbox, "bare": bare, "rps_ratio_sandbox_over_bare": ratio,
        "sandbox_outbox_after_run": stored, "python": platform.python_version(), "cpus": os.cpu_count(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "ok": not problems, "problems": problems,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print()
    print("| endpoint | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    print(f"| sandbox `POST /v23.0/{{phone}}/messages` | {sandbox['rps']} | {sandbox['p50_ms']} | {sandbox['p99_ms']} |")
    print(f"| bare Sanic 200 | {bare['rps']} | {bare['p50_ms']} | {bare['p99_ms']} |")
    print(f"\nsandbox/bare throughput ratio: {ratio} (concurrency {args.concurrency}, {sandbox['requests']} requests)")
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems) + "\n" + server_log[-2000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

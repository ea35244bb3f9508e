"""The run command on this machine: everything comes up, the virtual-phones page loads in
headless Chromium, and after SIGINT no process it started is left."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest

from devstack import free_port

ROOT = Path(__file__).resolve().parents[2]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _read_until_up(process: subprocess.Popen, deadline: float, lines: List[str]) -> Dict[str, int]:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.match(r"\[devstack\] pids: (.*)", line)
        if found:
            return {name: int(pid) for name, pid in (item.split("=") for item in found.group(1).split())}
    raise AssertionError("the run command did not come up:\n" + "".join(lines[-60:]))


def _customer_says_hi_and_the_bot_answers(sandbox_port: int) -> None:
    base = f"http://127.0.0.1:{sandbox_port}/_sandbox"
    body = json.dumps({"type": "text", "text": {"body": "hi"}, "name": "Asha"}).encode()
    request = urllib.request.Request(f"{base}/customers/919800000001/messages", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/outbox?to=919800000001", timeout=10) as answer:
            if json.load(answer)["messages"]:
                return
        time.sleep(0.5)
    raise AssertionError("the bot did not answer 'hi' within 90 s")


@pytest.mark.slow
@pytest.mark.browser
def test_run_command_starts_everything_and_sigint_leaves_nothing(tmp_path: Path, page: Any) -> None:
    ports = {name: free_port() for name in ("SANDBOX_PORT", "HANDOFF_PORT", "BROADCASTS_PORT",
                                            "RASA_PORT", "ACTIONS_PORT")}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "PARLEY_DATA_DIR": str(tmp_path / "data"), "PARLEY_BUNDLED_REDIS": "1",
           "MONGODB_URL": "", "REDIS_URL": ""}
    process = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: List[str] = []
    try:
        pids = _read_until_up(process, time.monotonic() + 420, lines)
        assert {"redis", "mongodb", "sandbox"} <= set(pids)
        # The bundled Redis keeps an append-only file in the data dir.
        assert any((tmp_path / "data" / "redis").rglob("*.aof*"))
        if os.environ.get("PARLEY_BOT_PYTHON"):
            assert {"rasa", "actions"} <= set(pids)
            _customer_says_hi_and_the_bot_answers(ports["SANDBOX_PORT"])
        page.goto(f"http://127.0.0.1:{ports['SANDBOX_PORT']}/")
        page.wait_for_load_state("load")
        assert "phone" in page.content().lower()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(0.5)
    left = [name for name, pid in pids.items() if _group_alive(pid)]
    assert left == [], f"still running after SIGINT: {left}"

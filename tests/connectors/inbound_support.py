"""Helpers shared by the inbound connector tests (fixture bodies, signing, Redis clients)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from connectors import keys
from connectors.events import Event

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
SECRET = "test-secret"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture(name: str) -> Dict[str, Any]:
    return json.loads(fixture_bytes(name))


def text_body(wa_id: str, wamid: str, text: str, ts: int = 1749416383, name: str = "Cust") -> bytes:
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": text}}],
        }}]}]}
    return json.dumps(doc, separators=(",", ":")).encode()


def status_body(*statuses: Tuple[str, str], recipient: str = "15550009999", ts: int = 1749416390) -> bytes:
    """A status-only webhook: one ``(wamid, status)`` item per argument, as Meta sends them."""
    items = [{"id": wamid, "status": status, "timestamp": str(ts), "recipient_id": recipient}
             for wamid, status in statuses]
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"},
            "statuses": items,
        }}]}]}
    return json.dumps(doc, separators=(",", ":")).encode()


async def events_of(redis: Any, stream: str = keys.EVENTS_STREAM) -> List[Event]:
    return [Event.from_fields(fields) for _, fields in await redis.xrange(stream)]


class Recorder:
    """An injected bot handler that records what would have reached Rasa."""

    def __init__(self, fail_times: int = 0) -> None:
        self.inputs: list = []
        self.fail_times = fail_times
        self.calls = 0

    async def __call__(self, bot_input: Any) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError("bot unavailable")
        self.inputs.append(bot_input)

    @property
    def texts(self) -> List[str]:
        return [i.text for i in self.inputs]


# Bot-env processes (stdlib only) --------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
RASA_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "RASA_TELEMETRY_ENABLED": "false"}
# `rasa` CLI with skops imported before TensorFlow (model load 5.5 s -> 0.3 s).
RASA_CLI = ("import sys\nimport skops.io\nfrom rasa.__main__ import main\n"
            "sys.argv = ['rasa'] + sys.argv[1:]\nmain()\n")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: Any, timeout: float = 60.0) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"process on port {port} did not start (exit {proc.poll()})")
            time.sleep(0.2)


def train_fast_model() -> str:
    """The bot's fast model (bot/train.py caches by content hash); pytest.skip with the reason if impossible."""
    import subprocess
    import sys

    import pytest

    if not (ROOT / "bot" / "train.py").exists():
        pytest.skip("bot/ has no trainable project yet")
    proc = subprocess.run([sys.executable, str(ROOT / "bot" / "train.py"), "--config", "fast"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**__import__("os").environ, **RASA_ENV})
    path = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or not Path(path).exists():
        pytest.skip(f"could not train the bot's fast model: {proc.stderr[-400:]}")
    return path


def start_action_server(redis_url: str, mongo_url: str) -> Tuple[Any, str]:
    """``rasa_sdk`` serving bot.actions; (process, webhook URL)."""
    import os
    import subprocess
    import sys

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), REDIS_URL=redis_url, MONGODB_URL=mongo_url,
               ACTIONS_IO_TIMEOUT_S="0.5", **RASA_ENV)
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}/webhook"

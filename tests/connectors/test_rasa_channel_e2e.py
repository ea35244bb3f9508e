"""Acceptance: a virtual customer's message goes sandbox -> signed webhook -> `rasa run`
(a subprocess in the bot env, with bot/credentials.yml and bot/endpoints.yml) -> Rasa -> reply
in the sandbox outbox; and a message acknowledged by a Rasa that is then SIGKILLed is answered
after the restart.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import urlparse

import pytest

pytest.importorskip("rasa")

from .inbound_support import RASA_CLI, RASA_ENV, ROOT, free_port, start_action_server, train_fast_model  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_path() -> str:
    return train_fast_model()


@pytest.fixture
def stack(sandbox: Any, redis_url: str, mongo_url: str, mongo_db_name: str, tmp_path: Path) -> Iterator[Dict[str, Any]]:
    actions, action_url = start_action_server(redis_url, mongo_url)
    port = free_port()
    url = urlparse(redis_url)
    env = dict(os.environ, PYTHONPATH=str(ROOT), **RASA_ENV,
               WHATSAPP_VERIFY_TOKEN=sandbox.verify_token, WHATSAPP_APP_SECRET=sandbox.app_secret,
               WHATSAPP_ACCESS_TOKEN=sandbox.access_token, WHATSAPP_PHONE_NUMBER_ID=sandbox.phone_number_id,
               GRAPH_BASE_URL=sandbox.url, GRAPH_VERSION=sandbox.api_version,
               REDIS_URL=redis_url, REDIS_HOST=url.hostname, REDIS_PORT=str(url.port),
               REDIS_DB=url.path.strip("/") or "0", MONGODB_URL=mongo_url, MONGODB_DB=mongo_db_name,
               ACTION_ENDPOINT_URL=action_url)
    sandbox.configure(webhook_url=f"http://127.0.0.1:{port}/webhooks/whatsapp/webhook")
    procs: List[subprocess.Popen] = []

    def start(model: str) -> subprocess.Popen:
        log = open(tmp_path / f"rasa-{len(procs)}.log", "w")
        endpoints, model_args = "bot/endpoints.yml", ["--model", model]
        if not model:
            # A model server that never answers: Rasa serves HTTP but its agent never becomes ready.
            endpoints = str(tmp_path / "endpoints-no-model.yml")
            Path(endpoints).write_text((ROOT / "bot" / "endpoints.yml").read_text()
                                       + "\nmodels:\n  url: http://127.0.0.1:9/model.tar.gz\n"
                                       "  wait_time_between_pulls: null\n")
            model_args = []
        proc = subprocess.Popen(
            [sys.executable, "-c", RASA_CLI, "run", *model_args, "--credentials", "bot/credentials.yml",
             "--endpoints", endpoints, "--port", str(port), "--interface", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        _wait_http(f"http://127.0.0.1:{port}/webhooks/whatsapp/", proc, tmp_path)
        return proc

    yield {"start": start, "sandbox": sandbox, "logs": tmp_path}
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    actions.terminate()
    actions.wait(timeout=10)


def _wait_http(url: str, proc: subprocess.Popen, logs: Path, timeout: float = 90.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "".join(open(p).read()[-2000:] for p in sorted(logs.glob("rasa-*.log")))
            raise AssertionError(f"rasa did not serve {url}:\n{tail}")
        time.sleep(0.3)


def _replies(sandbox: Any, wa_id: str) -> List[Dict[str, Any]]:
    return sandbox.outbox(to=wa_id)


def test_customer_hi_is_answered_in_the_sandbox(stack: Dict[str, Any], model_path: str) -> None:
    stack["start"](model_path)
    sandbox = stack["sandbox"]
    sandbox.customer_sends("919800000042", {"type": "text", "text": {"body": "hi"}}, name="Asha")
    replies = sandbox.wait_for_outbox(lambda msgs: any(m["to"].lstrip("+") == "919800000042" for m in msgs),
                                      timeout=60)
    reply = next(m for m in replies if m["to"].lstrip("+") == "919800000042")
    assert reply["type"] in ("text", "interactive")
    assert "Paidal" in str(reply["payload"])
    # The customer's leading-slash text is not an intent command (no /restart side effect).
    sandbox.customer_sends("919800000042", {"type": "text", "text": {"body": "/restart"}})
    time.sleep(1.0)
    hook_statuses = [a["status"] for d in sandbox.webhooks() for a in d["attempts"]]
    assert hook_statuses and all(s == 200 for s in hook_statuses)


def test_message_acknowledged_before_a_sigkill_is_answered_after_restart(stack: Dict[str, Any],
                                                                          model_path: str,
                                                                          tmp_path: Path) -> None:
    # A Rasa whose model never loads: the webhook is stored and answered 200, nothing is processed.
    broken = stack["start"]("")
    sandbox = stack["sandbox"]
    sandbox.customer_sends("919800000043", {"type": "text", "text": {"body": "hello"}}, name="Ravi")
    sandbox.wait_for_webhooks(lambda ds: any(a["status"] == 200 for d in ds for a in d["attempts"]), timeout=20)
    os.kill(broken.pid, signal.SIGKILL)
    broken.wait(timeout=10)
    assert _replies(sandbox, "919800000043") == []
    stack["start"](model_path)
    replies = sandbox.wait_for_outbox(lambda msgs: any(m["to"].lstrip("+") == "919800000043" for m in msgs),
                                      timeout=60)
    assert any("Paidal" in str(m["payload"]) for m in replies if m["to"].lstrip("+") == "919800000043")

"""``python -m sandbox`` as a process: start-up handshake, configuration errors, settings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.plugins.sandbox import REPO_ROOT, SandboxProcess, free_port, http

PYTHON = os.environ.get("PARLEY_SERVICES_PYTHON") or sys.executable


def _config(process: SandboxProcess) -> Any:
    return json.loads(http("GET", f"{process.url}/_sandbox/config")[1])


def test_startup_handshake_reaches_the_receiver(tmp_path: Path, webhook_receiver: Any) -> None:
    webhook_receiver.verify_token = "custom-verify"
    process = SandboxProcess(tmp_path / "a.log", {"SANDBOX_WEBHOOK_URL": webhook_receiver.url,
                                                  "SANDBOX_VERIFY_TOKEN": "custom-verify"})
    try:
        process.wait_ready()
        webhook_receiver.wait_until(lambda r: len(r.handshakes) >= 1)
        (query,) = webhook_receiver.handshakes
        assert query["hub.mode"] == "subscribe" and query["hub.verify_token"] == "custom-verify"
        assert query["hub.challenge"].isdigit()
        deadline = time.monotonic() + 5
        while not _config(process)["handshakes"] and time.monotonic() < deadline:
            time.sleep(0.05)
        (result,) = _config(process)["handshakes"]
        assert result["ok"] is True and result["attempts"] == 1 and result["url"] == webhook_receiver.url
    finally:
        process.stop()


def test_handshake_failure_never_blocks_startup(tmp_path: Path, webhook_receiver: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    process = SandboxProcess(tmp_path / "b.log", {"SANDBOX_WEBHOOK_URL": dead, "SANDBOX_HANDSHAKE_ATTEMPTS": "2",
                                                  "SANDBOX_HANDSHAKE_RETRY_MS": "50"})
    try:
        process.wait_ready()
        deadline = time.monotonic() + 5
        while not _config(process)["handshakes"] and time.monotonic() < deadline:
            time.sleep(0.05)
        (result,) = _config(process)["handshakes"]
        assert result["ok"] is False and result["attempts"] == 2 and result["error"]
        # A wrong verify token is a failed handshake too; PATCHing the URL verifies again.
        status, _ = http("PATCH", f"{process.url}/_sandbox/config", {"webhook_url": webhook_receiver.url})
        assert status == 200
        webhook_receiver.wait_until(lambda r: len(r.handshakes) >= 1)
        while len(_config(process)["handshakes"]) < 2 and time.monotonic() < deadline + 5:
            time.sleep(0.05)
        assert _config(process)["handshakes"][-1]["ok"] is True
    finally:
        process.stop()
    assert "handshake" in (tmp_path / "b.log").read_text()


def test_bad_configuration_fails_fast_with_a_clear_message() -> None:
    env = dict(os.environ, SANDBOX_PORT="not-a-port", PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([PYTHON, "-m", "sandbox"], cwd=str(REPO_ROOT), env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "SANDBOX_PORT" in result.stderr


def test_settings_from_env_reads_every_variable() -> None:
    code = (
        "from sandbox.settings import Settings; import dataclasses, json;"
        "s = Settings.from_env({'SANDBOX_THROUGHPUT_MPS': '1000', 'SANDBOX_PAIR_RATE': '0',"
        " 'SANDBOX_STATUS_DELAYS_MS': '1,2,3', 'SANDBOX_UNREACHABLE': '+111111, 222222',"
        " 'SANDBOX_CHAOS_DUPLICATE': '0.5', 'SANDBOX_SEED': '7'});"
        "print(json.dumps(dataclasses.asdict(s)))"
    )
    result = subprocess.run([PYTHON, "-c", code], cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["throughput_mps"] == 1000 and settings["pair_rate"] is False
    assert settings["status_delays_ms"] == [1, 2, 3] and settings["unreachable"] == ["111111", "222222"]
    assert settings["chaos_duplicate"] == 0.5 and settings["seed"] == 7
    assert settings["access_token"] == "sandbox-token" and settings["phone_number_id"] == "100000000000001"
    readme = (REPO_ROOT / "sandbox" / "README.md").read_text()
    missing = [name for name in settings if f"SANDBOX_{name.upper()}" not in readme]
    assert not missing, f"undocumented settings: {missing}"

"""docker-compose.yml is production-shaped and valid (no Docker engine runs here)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v",
    "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_WABA_ID": "2", "RASA_TOKEN": "r", "HANDOFF_SECRET_KEY": "k",
}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_process_of_the_platform_is_a_service_with_a_healthcheck() -> None:
    services = _compose()["services"]
    assert {"redis", "mongo", "rasa", "actions", "handoff", "broadcasts", "sandbox"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"


def test_redis_uses_aof_and_both_stores_keep_data_in_volumes() -> None:
    services = _compose()["services"]
    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["volumes"] and services["mongo"]["volumes"]
    assert services["sandbox"]["profiles"] == ["dev"]


def test_dockerfiles_install_from_the_lock_files() -> None:
    for dockerfile, lock in (("bot", "bot.lock"), ("services", "services.lock")):
        text = (ROOT / "docker" / f"{dockerfile}.Dockerfile").read_text()
        assert f"requirements/{lock}" in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_config_accepts_the_file_and_refuses_missing_secrets() -> None:
    env = {**os.environ, **SECRETS}
    ok = subprocess.run(["docker-compose", "-f", str(COMPOSE), "--profile", "dev", "config", "-q"],
                        env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bare = {k: v for k, v in os.environ.items() if k not in SECRETS}
    refused = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                             env=bare, capture_output=True, text=True)
    assert refused.returncode != 0 and "WHATSAPP_ACCESS_TOKEN" in refused.stderr + refused.stdout

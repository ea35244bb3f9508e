"""What the dev runner (and the test suite's `platform` fixture) starts, in order, and where."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, Optional

from devstack.ports import port_open, wait_for_port
from devstack.processes import Supervisor
from devstack.secrets import dev_secret
from devstack.settings import PLATFORM_SERVICES, StackSettings
from devstack.stores import free_port_or, start_mongo, start_redis

RASA_WEBHOOK_PATH = "/webhooks/whatsapp/webhook"
# `rasa` with skops imported before TensorFlow: model load 5.5 s -> 0.3 s (rasa-3.6-notes.md).
RASA_CLI = ("import sys\ntry:\n    import skops.io  # noqa: F401\nexcept ImportError:\n    pass\n"
            "from rasa.__main__ import main\nsys.argv = ['rasa'] + sys.argv[1:]\nmain()\n")


@dataclass(frozen=True)
class RunningPlatform:
    """Where everything `start_platform` started listens ("" = not started)."""

    redis_url: str
    mongodb_url: str
    mongodb_db: str
    sandbox_url: str
    graph_version: str
    rasa_url: str = ""
    rasa_token: str = ""
    actions_url: str = ""
    handoff_url: str = ""
    broadcasts_url: str = ""
    admin_email: str = ""
    admin_password: str = ""

    def urls(self) -> Dict[str, str]:
        """What the dev runner prints."""
        urls = {"redis": self.redis_url, "mongodb": self.mongodb_url,
                "virtual phones": f"{self.sandbox_url}/",
                "graph api (sandbox)": f"{self.sandbox_url}/{self.graph_version}"}
        if self.rasa_url:
            urls["rasa webhook"] = f"{self.rasa_url}{RASA_WEBHOOK_PATH}"
            urls["action server"] = self.actions_url
        for name, url in (("handoff", self.handoff_url), ("broadcasts", self.broadcasts_url)):
            if url:
                urls[name] = f"{url}/"
        if self.handoff_url:
            urls["console login (handoff + broadcasts)"] = f"{self.admin_email} / {self.admin_password}"
        return urls


def start_platform(s: StackSettings, sup: Supervisor) -> RunningPlatform:
    """Start stores, sandbox, bot and `s.services` under `sup`; say where they listen."""
    redis_url = _ensure_redis(s, sup)
    mongodb_url = _ensure_mongo(s, sup)
    env = {
        **s.shared_env(redis_url, mongodb_url),
        "RASA_TOKEN": dev_secret(s.data_dir, "RASA_TOKEN"),
        "HANDOFF_SECRET_KEY": dev_secret(s.data_dir, "HANDOFF_SECRET_KEY"),
        "HANDOFF_ADMIN_EMAIL": s.admin_email,
        "HANDOFF_ADMIN_PASSWORD": dev_secret(s.data_dir, "HANDOFF_ADMIN_PASSWORD", 12),
        "HANDOFF_PORT": str(s.handoff_port),
        "BROADCASTS_PORT": str(s.broadcasts_port),
    }
    python = s.services_python or sys.executable
    local = "http://127.0.0.1"

    bot_model = _prepare_bot(s, env) if s.bot_python else None
    rasa_url = f"{local}:{s.rasa_port}" if bot_model else ""
    sup.start("sandbox", [python, "-m", "sandbox"], env={
        **env,
        **dict(s.sandbox_env),
        "SANDBOX_PORT": str(s.sandbox_port),
        "SANDBOX_ACCESS_TOKEN": s.access_token,
        "SANDBOX_APP_SECRET": s.app_secret,
        "SANDBOX_VERIFY_TOKEN": s.verify_token,
        "SANDBOX_PHONE_NUMBER_ID": s.phone_number_id,
        "SANDBOX_WABA_ID": s.waba_id,
        "SANDBOX_WEBHOOK_URL": f"{rasa_url}{RASA_WEBHOOK_PATH}" if rasa_url else "",
    }, cwd=str(s.root), port=s.sandbox_port)
    wait_for_port("127.0.0.1", s.sandbox_port, timeout=30, process=sup.children[-1].process)

    if bot_model:
        _start_bot(s, sup, env, bot_model)

    started: Dict[str, str] = {}
    for package, port in zip(PLATFORM_SERVICES, (s.handoff_port, s.broadcasts_port)):
        if package in s.services and (s.root / package / "__main__.py").exists():
            sup.start(package, [python, "-m", package], env=env, cwd=str(s.root), port=port)
            wait_for_port("127.0.0.1", port, timeout=60, process=sup.children[-1].process)
            started[package] = f"{local}:{port}"
    return RunningPlatform(
        redis_url=redis_url, mongodb_url=mongodb_url, mongodb_db=s.mongodb_db,
        sandbox_url=f"{local}:{s.sandbox_port}", graph_version=s.graph_version,
        rasa_url=rasa_url, rasa_token=env["RASA_TOKEN"] if rasa_url else "",
        actions_url=f"{local}:{s.actions_port}" if rasa_url else "",
        handoff_url=started.get("handoff", ""), broadcasts_url=started.get("broadcasts", ""),
        admin_email=env["HANDOFF_ADMIN_EMAIL"], admin_password=env["HANDOFF_ADMIN_PASSWORD"],
    )


def _ensure_redis(s: StackSettings, sup: Supervisor) -> str:
    if s.redis_url:
        return s.redis_url
    if not s.bundled_redis and port_open("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    port = free_port_or(6379)
    data = s.data_dir / "redis"
    sup.adopt("redis", start_redis(port, data, aof=True), port=port,
              factory=lambda: start_redis(port, data, aof=True))
    return f"redis://127.0.0.1:{port}/0"


def _ensure_mongo(s: StackSettings, sup: Supervisor) -> str:
    if s.mongodb_url:
        return s.mongodb_url
    port = free_port_or(27017)
    data = s.data_dir / "mongo"
    sup.adopt("mongodb", start_mongo(port, data), port=port, factory=lambda: start_mongo(port, data))
    return f"mongodb://127.0.0.1:{port}/"


def _prepare_bot(s: StackSettings, env: Dict[str, str]) -> Optional[str]:
    """Train the model if needed (cached by a hash of data + config) and seed demo data."""
    assert s.bot_python
    if not (s.root / "bot" / "train.py").exists():
        return None
    trained = subprocess.run(
        [s.bot_python, "bot/train.py", "--config", s.bot_config, "--out", "bot/models"],
        cwd=str(s.root), env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )
    if trained.returncode != 0:
        raise RuntimeError(f"training failed:\n{trained.stdout[-2000:]}\n{trained.stderr[-2000:]}")
    model = trained.stdout.strip().splitlines()[-1]
    subprocess.run([s.bot_python, "-m", "bot.seed_orders"], cwd=str(s.root),
                   env={**os.environ, **env}, check=True)
    return model


def _start_bot(s: StackSettings, sup: Supervisor, env: Dict[str, str], model: str) -> None:
    assert s.bot_python
    sup.start("actions", [s.bot_python, "-m", "rasa_sdk", "--actions", "bot.actions",
                          "--port", str(s.actions_port)], env=env, cwd=str(s.root), port=s.actions_port)
    sup.start("rasa", [s.bot_python, "-c", RASA_CLI, "run", "--model", model,
                       "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml",
                       "--port", str(s.rasa_port), "--interface", "127.0.0.1",
                       "--enable-api", "--auth-token", env["RASA_TOKEN"]],
              env=env, cwd=str(s.root), port=s.rasa_port)
    wait_for_port("127.0.0.1", s.actions_port, timeout=60, process=sup.children[-2].process)
    wait_for_port("127.0.0.1", s.rasa_port, timeout=180, process=sup.children[-1].process)


"""What the dev runner starts, in order, and the URLs it prints."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, Optional

from devstack.ports import port_open, wait_for_port
from devstack.processes import Supervisor
from devstack.secrets import dev_secret
from devstack.settings import StackSettings
from devstack.stores import free_port_or, start_mongo, start_redis

PLATFORM_SERVICES = ("handoff", "broadcasts")
# `rasa` with skops imported before TensorFlow: model load 5.5 s -> 0.3 s (rasa-3.6-notes.md).
RASA_CLI = ("import sys\ntry:\n    import skops.io  # noqa: F401\nexcept ImportError:\n    pass\n"
            "from rasa.__main__ import main\nsys.argv = ['rasa'] + sys.argv[1:]\nmain()\n")


def start_platform(s: StackSettings, sup: Supervisor) -> Dict[str, str]:
    """Start stores, sandbox, bot and services under `sup`; return what to print."""
    urls: Dict[str, str] = {}
    redis_url = _ensure_redis(s, sup)
    mongodb_url = _ensure_mongo(s, sup)
    urls["redis"] = redis_url
    urls["mongodb"] = mongodb_url
    env = {
        **s.shared_env(redis_url, mongodb_url),
        "RASA_TOKEN": dev_secret(s.data_dir, "RASA_TOKEN"),
        "HANDOFF_SECRET_KEY": dev_secret(s.data_dir, "HANDOFF_SECRET_KEY"),
        "HANDOFF_ADMIN_EMAIL": os.environ.get("HANDOFF_ADMIN_EMAIL", "admin@parley.local"),
        "HANDOFF_ADMIN_PASSWORD": dev_secret(s.data_dir, "HANDOFF_ADMIN_PASSWORD", 12),
        "HANDOFF_PORT": str(s.handoff_port),
        "BROADCASTS_PORT": str(s.broadcasts_port),
    }
    python = s.services_python or sys.executable

    bot_model = _prepare_bot(s, env) if s.bot_python else None
    webhook = f"http://127.0.0.1:{s.rasa_port}/webhooks/whatsapp/webhook" if bot_model else ""
    sup.start("sandbox", [python, "-m", "sandbox"], env={
        **env,
        "SANDBOX_PORT": str(s.sandbox_port),
        "SANDBOX_ACCESS_TOKEN": s.access_token,
        "SANDBOX_APP_SECRET": s.app_secret,
        "SANDBOX_VERIFY_TOKEN": s.verify_token,
        "SANDBOX_PHONE_NUMBER_ID": s.phone_number_id,
        "SANDBOX_WABA_ID": s.waba_id,
        "SANDBOX_WEBHOOK_URL": webhook,
    }, cwd=str(s.root))
    wait_for_port("127.0.0.1", s.sandbox_port, timeout=30)
    urls["virtual phones"] = f"http://127.0.0.1:{s.sandbox_port}/"
    urls["graph api (sandbox)"] = f"http://127.0.0.1:{s.sandbox_port}/{s.graph_version}"

    if bot_model and s.bot_python:
        _start_bot(s, sup, env, bot_model)
        urls["rasa webhook"] = webhook
        urls["action server"] = f"http://127.0.0.1:{s.actions_port}"

    for package, port in zip(PLATFORM_SERVICES, (s.handoff_port, s.broadcasts_port)):
        if (s.root / package / "__main__.py").exists():
            sup.start(package, [python, "-m", package], env=env, cwd=str(s.root))
            wait_for_port("127.0.0.1", port, timeout=60, process=sup.children[-1].process)
            urls[package] = f"http://127.0.0.1:{port}/"
    if "handoff" in urls:
        urls["agent console login"] = f"{env['HANDOFF_ADMIN_EMAIL']} / {env['HANDOFF_ADMIN_PASSWORD']}"
    return urls


def _ensure_redis(s: StackSettings, sup: Supervisor) -> str:
    if s.redis_url:
        return s.redis_url
    if not s.bundled_redis and port_open("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    port = free_port_or(6379)
    sup.adopt("redis", start_redis(port, s.data_dir / "redis", aof=True))
    return f"redis://127.0.0.1:{port}/0"


def _ensure_mongo(s: StackSettings, sup: Supervisor) -> str:
    if s.mongodb_url:
        return s.mongodb_url
    port = free_port_or(27017)
    sup.adopt("mongodb", start_mongo(port, s.data_dir / "mongo"))
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
                          "--port", str(s.actions_port)], env=env, cwd=str(s.root))
    sup.start("rasa", [s.bot_python, "-c", RASA_CLI, "run", "--model", model,
                       "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml",
                       "--port", str(s.rasa_port), "--interface", "127.0.0.1",
                       "--enable-api", "--auth-token", env["RASA_TOKEN"]],
              env=env, cwd=str(s.root))
    wait_for_port("127.0.0.1", s.actions_port, timeout=60, process=sup.children[-2].process)
    wait_for_port("127.0.0.1", s.rasa_port, timeout=180, process=sup.children[-1].process)


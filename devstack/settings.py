"""The dev runner's settings, read once from the environment."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple
from urllib.parse import urlparse

from devstack.ports import free_port

#: Parley's own services (`python -m <name>`), started when their `__main__.py` exists.
PLATFORM_SERVICES = ("handoff", "broadcasts")


@dataclass(frozen=True)
class StackSettings:
    root: Path
    data_dir: Path
    redis_url: Optional[str]       # None: reuse 127.0.0.1:6379 or start the bundled server
    bundled_redis: bool            # start the bundled server even when 6379 answers
    mongodb_url: Optional[str]     # None: start the embedded MongoDB-compatible server
    mongodb_db: str
    services_python: str
    bot_python: Optional[str]      # None: the bot env is not built; rasa is not started
    sandbox_port: int
    handoff_port: int
    broadcasts_port: int
    rasa_port: int
    actions_port: int
    access_token: str
    app_secret: str
    verify_token: str
    phone_number_id: str
    waba_id: str
    graph_version: str
    bot_config: str
    admin_email: str               # the dev admin of both consoles
    log_format: str = "text"       # PARLEY_LOG_FORMAT of every process: text | json (observability.logs)
    services: Tuple[str, ...] = PLATFORM_SERVICES  # which of PLATFORM_SERVICES to start
    sandbox_env: Tuple[Tuple[str, str], ...] = ()  # extra SANDBOX_* settings (tests: fast timings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "StackSettings":
        root = Path(__file__).resolve().parent.parent
        bot_python = env.get("PARLEY_BOT_PYTHON") or None
        return cls(
            root=root,
            data_dir=Path(env.get("PARLEY_DATA_DIR", str(root / ".data"))),
            redis_url=env.get("REDIS_URL") or None,
            bundled_redis=env.get("PARLEY_BUNDLED_REDIS", "") == "1",
            mongodb_url=env.get("MONGODB_URL") or None,
            mongodb_db=env.get("MONGODB_DB", "parley"),
            services_python=env.get("PARLEY_SERVICES_PYTHON", ""),
            bot_python=bot_python if bot_python and Path(bot_python).exists() else None,
            sandbox_port=int(env.get("SANDBOX_PORT", "8787")),
            handoff_port=int(env.get("HANDOFF_PORT", "8788")),
            broadcasts_port=int(env.get("BROADCASTS_PORT", "8789")),
            rasa_port=int(env.get("RASA_PORT", "5005")),
            actions_port=int(env.get("ACTIONS_PORT", "5055")),
            access_token=env.get("WHATSAPP_ACCESS_TOKEN", "sandbox-token"),
            app_secret=env.get("WHATSAPP_APP_SECRET", "sandbox-secret"),
            verify_token=env.get("WHATSAPP_VERIFY_TOKEN", "sandbox-verify"),
            phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID", "100000000000001"),
            waba_id=env.get("WHATSAPP_WABA_ID", "200000000000001"),
            graph_version=env.get("GRAPH_VERSION", "v23.0"),
            bot_config=env.get("PARLEY_BOT_CONFIG", "fast"),
            admin_email=env.get("HANDOFF_ADMIN_EMAIL", "admin@parley.local"),
            log_format=env.get("PARLEY_LOG_FORMAT", "text"),
        )

    def with_free_ports(self) -> "StackSettings":
        """The same settings with every service port on a free port (tests, parallel runs)."""
        return dataclasses.replace(self, sandbox_port=free_port(), handoff_port=free_port(),
                                   broadcasts_port=free_port(), rasa_port=free_port(),
                                   actions_port=free_port())

    def shared_env(self, redis_url: str, mongodb_url: str) -> Dict[str, str]:
        """The variables every Parley process reads (docs/contracts.md)."""
        redis = urlparse(redis_url)
        return {
            "REDIS_URL": redis_url,
            # Rasa's stores take a host, port and db rather than a URL (bot/endpoints.yml).
            "REDIS_HOST": redis.hostname or "127.0.0.1",
            "REDIS_PORT": str(redis.port or 6379),
            "REDIS_DB": redis.path.strip("/") or "0",
            "RASA_TELEMETRY_ENABLED": "false",
            "MONGODB_URL": mongodb_url,
            "MONGODB_DB": self.mongodb_db,
            "GRAPH_BASE_URL": f"http://127.0.0.1:{self.sandbox_port}",
            "GRAPH_VERSION": self.graph_version,
            "WHATSAPP_ACCESS_TOKEN": self.access_token,
            "WHATSAPP_APP_SECRET": self.app_secret,
            "WHATSAPP_VERIFY_TOKEN": self.verify_token,
            "WHATSAPP_PHONE_NUMBER_ID": self.phone_number_id,
            "WHATSAPP_WABA_ID": self.waba_id,
            "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "PARLEY_LOG_FORMAT": self.log_format,
            "PYTHONPATH": str(self.root),
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        }
